package smtpd

import (
	"bytes"
	"io"
	"os"
)

// spool holds one incoming message: in memory up to limit bytes, then in
// an unlinked temporary file (nothing is left behind after a crash).
type spool struct {
	dir   string
	limit int
	buf   []byte
	f     *os.File
	n     int64
}

func newSpool(dir string, limit int) *spool {
	return &spool{dir: dir, limit: limit}
}

// getSpool returns a spool whose memory buffer comes from the server's
// pool; putSpool closes it and gives the buffer back.
func (s *Server) getSpool() *spool {
	sp := newSpool(s.opts.SpoolDir, memSpoolLimit)
	if b, ok := s.spools.Get().(*[]byte); ok {
		sp.buf = (*b)[:0]
	}
	return sp
}

func (s *Server) putSpool(sp *spool) {
	b := sp.buf
	sp.Close()
	if b != nil && cap(b) <= maxPooledSpool {
		s.spools.Put(&b)
	}
}

func (sp *spool) Write(p []byte) (int, error) {
	if sp.f == nil && len(sp.buf)+len(p) <= sp.limit {
		sp.buf = append(sp.buf, p...)
		sp.n += int64(len(p))
		return len(p), nil
	}
	if sp.f == nil {
		f, err := os.CreateTemp(sp.dir, "smtpd-*.eml")
		if err != nil {
			return 0, err
		}
		os.Remove(f.Name())
		sp.f = f
		if _, err := f.Write(sp.buf); err != nil {
			return 0, err
		}
		sp.buf = nil
	}
	n, err := sp.f.Write(p)
	sp.n += int64(n)
	return n, err
}

// Size returns the bytes written.
func (sp *spool) Size() int64 { return sp.n }

// Reader returns a new reader over the whole message; several may be
// used one after the other.
func (sp *spool) Reader() io.Reader {
	if sp.f != nil {
		return io.NewSectionReader(sp.f, 0, sp.n)
	}
	return bytes.NewReader(sp.buf)
}

// Close releases the spool.
func (sp *spool) Close() error {
	sp.buf = nil
	if sp.f != nil {
		return sp.f.Close()
	}
	return nil
}
