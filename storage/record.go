package storage

import (
	"encoding/binary"
	"errors"
	"time"
)

// msgRec is the compact per-message record.
type msgRec struct {
	flags  flagSet
	date   int64 // internal date, Unix nanoseconds
	size   int64
	modseq uint64
	file   string // file name in cur/ (base name plus ":2," info)
}

const msgRecVersion = 1

func (r *msgRec) marshal() []byte {
	b := make([]byte, 0, 40+len(r.file))
	b = append(b, msgRecVersion)
	b = binary.AppendUvarint(b, r.modseq)
	b = binary.AppendUvarint(b, uint64(r.size))
	b = binary.AppendVarint(b, r.date)
	b = append(b, r.flags.bits)
	b = binary.AppendUvarint(b, uint64(len(r.flags.keywords)))
	for _, k := range r.flags.keywords {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	b = binary.AppendUvarint(b, uint64(len(r.file)))
	b = append(b, r.file...)
	return b
}

var errCorrupt = errors.New("storage: corrupt index record")

// unmarshalMsg decodes a record. withFile false skips copying the file
// name (List does not need it).
func unmarshalMsg(b []byte, r *msgRec, withFile bool) error {
	if len(b) < 1 || b[0] != msgRecVersion {
		return errCorrupt
	}
	d := decoder{b: b[1:]}
	r.modseq = d.uvarint()
	r.size = int64(d.uvarint())
	r.date = d.varint()
	r.flags.bits = d.byte()
	n := d.uvarint()
	r.flags.keywords = nil
	if n > maxKeywords {
		return errCorrupt
	}
	if n > 0 {
		r.flags.keywords = make([]string, n)
		for i := range r.flags.keywords {
			r.flags.keywords[i] = string(d.bytes())
		}
	}
	f := d.bytes()
	if withFile {
		r.file = string(f)
	}
	if d.err {
		return errCorrupt
	}
	return nil
}

type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.err = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err || n > uint64(len(d.b)) {
		d.err = true
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (r *msgRec) meta(uid uint32) MessageMeta {
	return MessageMeta{
		UID:          uid,
		Flags:        r.flags.list(),
		InternalDate: time.Unix(0, r.date),
		Size:         r.size,
		ModSeq:       r.modseq,
	}
}
