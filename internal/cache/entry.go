package cache

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"time"
)

// Entry encoding: version, flags, stored and expiry in Unix ms, the content
// type, then the body (gzipped when flagged).
const (
	version     = 1
	flagGzip    = 1
	flagBinary  = 2
	headerBytes = 1 + 1 + 8 + 8 + 2
)

// encode returns an entry's head (the header and content type) and its
// body as stored: the caller's own bytes for binary and small bodies (no
// copy), gzipped otherwise. Redis joins the two (see storeScript).
func (s *Store) encode(e *Entry) (head, body []byte, err error) {
	if len(e.ContentType) > 0xffff {
		return nil, nil, errors.New("cache: content type too long")
	}
	flags := byte(0)
	body = e.Body
	if e.Binary {
		flags |= flagBinary
	} else if s.cfg.CompressAbove >= 0 && len(body) > s.cfg.CompressAbove {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		if _, err := zw.Write(body); err != nil {
			return nil, nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, nil, err
		}
		flags |= flagGzip
		body = buf.Bytes()
	}
	head = make([]byte, headerBytes, headerBytes+len(e.ContentType))
	head[0], head[1] = version, flags
	binary.BigEndian.PutUint64(head[2:], uint64(e.StoredAt.UnixMilli()))
	binary.BigEndian.PutUint64(head[10:], uint64(e.Expires.UnixMilli()))
	binary.BigEndian.PutUint16(head[18:], uint16(len(e.ContentType)))
	return append(head, e.ContentType...), body, nil
}

func decode(b []byte) (*Entry, error) {
	if len(b) < headerBytes || b[0] != version {
		return nil, errors.New("cache: unknown entry format")
	}
	n := int(binary.BigEndian.Uint16(b[18:]))
	if len(b) < headerBytes+n {
		return nil, errors.New("cache: truncated entry")
	}
	e := &Entry{
		StoredAt:    time.UnixMilli(int64(binary.BigEndian.Uint64(b[2:]))),
		Expires:     time.UnixMilli(int64(binary.BigEndian.Uint64(b[10:]))),
		ContentType: string(b[headerBytes : headerBytes+n]),
		Binary:      b[1]&flagBinary != 0,
		Body:        b[headerBytes+n:],
	}
	if b[1]&flagGzip != 0 {
		zr, err := gzip.NewReader(bytes.NewReader(e.Body))
		if err != nil {
			return nil, err
		}
		if e.Body, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	return e, nil
}
