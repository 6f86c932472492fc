//go:build !linux

package storage

import (
	"errors"
	"os"
)

// haveSyncfs: syncfs(2) is Linux only; elsewhere every body is fsynced.
const haveSyncfs = false

func syncfsFile(*os.File) error { return errors.ErrUnsupported }

// syncfsReportsErrors: no syncfs here.
func syncfsReportsErrors() bool { return false }
