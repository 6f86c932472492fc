//go:build linux

package storage

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// haveSyncfs: Linux has syncfs(2) since 2.6.39; its error is checked.
const haveSyncfs = true

// syncfsFile runs syncfs(2) on the file system holding f. Since Linux 5.8
// it reports writeback errors of that file system that happened since f
// was opened or last reported through it. ENOSYS (seccomp filters, old
// emulators) is returned as errors.ErrUnsupported.
func syncfsFile(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = unix.Syncfs(int(fd))
			if serr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if errors.Is(serr, unix.ENOSYS) {
		return errors.Join(errors.ErrUnsupported, serr)
	}
	return serr
}

// syncfsReportsErrors reports whether the running kernel's syncfs(2)
// returns writeback errors (Linux >= 5.8). On an older kernel a failed
// write would be acknowledged, so the store fsyncs each body instead.
func syncfsReportsErrors() bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	return kernelAtLeast(unix.ByteSliceToString(u.Release[:]), 5, 8)
}
