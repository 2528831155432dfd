package garant

import (
	"io"
	"unicode/utf8"
)

// streamed is a request body encoded as it is sent, in small chunks, and
// again for a retry: a 20 MB text is never copied whole.
type streamed interface {
	stream() *jsonStream
}

// stream encodes r as {"text":…,"baseUrl":…}.
func (r HyperlinksRequest) stream() *jsonStream {
	return &jsonStream{parts: []streamPart{
		{s: `{"text":"`}, {s: r.Text, quote: true}, {s: `","baseUrl":"`}, {s: r.BaseURL, quote: true}, {s: `"}`},
	}}
}

// streamPart is a piece of a JSON document: as it is, or the contents of a
// string to escape.
type streamPart struct {
	s     string
	quote bool
}

// jsonStream reads a JSON document from its parts, escaping the strings
// streamChunk bytes at a time (as encoding/json does, but without escaping
// <, > and &).
type jsonStream struct {
	parts []streamPart
	buf   []byte // encoded, not yet read from off
	off   int
}

// streamChunk is the most text escaped at once.
const streamChunk = 32 << 10

func (j *jsonStream) Read(p []byte) (int, error) {
	for j.off == len(j.buf) {
		if len(j.parts) == 0 {
			return 0, io.EOF
		}
		j.buf, j.off = j.buf[:0], 0
		part := &j.parts[0]
		if !part.quote {
			j.buf = append(j.buf, part.s...)
			j.parts = j.parts[1:]
			continue
		}
		chunk := nextChunk(part.s)
		j.buf = appendEscaped(j.buf, chunk)
		if part.s = part.s[len(chunk):]; part.s == "" {
			j.parts = j.parts[1:]
		}
	}
	n := copy(p, j.buf[j.off:])
	j.off += n
	return n, nil
}

// size is the length of the document j reads, read or not.
func (j *jsonStream) size() int64 {
	var n int64
	var scratch []byte
	for _, part := range j.parts {
		if !part.quote {
			n += int64(len(part.s))
			continue
		}
		for s := part.s; s != ""; {
			chunk := nextChunk(s)
			scratch = appendEscaped(scratch[:0], chunk)
			n += int64(len(scratch))
			s = s[len(chunk):]
		}
	}
	return n
}

// nextChunk is at most streamChunk bytes of s, cut before a byte that
// starts a rune or belongs to none (after four continuation bytes): a rune
// is never split, so the chunks escape as s would whole.
func nextChunk(s string) string {
	if len(s) <= streamChunk {
		return s
	}
	for k := streamChunk; k > streamChunk-utf8.UTFMax; k-- {
		if utf8.RuneStart(s[k]) {
			return s[:k]
		}
	}
	return s[:streamChunk]
}

const hex = "0123456789abcdef"

// appendEscaped appends s escaped as the contents of a JSON string: quotes,
// backslashes and control characters escaped, bytes that are not UTF-8 as
// \ufffd, U+2028 and U+2029 escaped (as encoding/json does).
func appendEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			switch r {
			case '\u2028':
				dst = append(dst, `\u2028`...)
			case '\u2029':
				dst = append(dst, `\u2029`...)
			default:
				dst = append(dst, `\ufffd`...)
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}
