package garantsim

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"strings"
	"unicode/utf16"
)

// rtfFile renders paragraphs as RTF; non-ASCII text goes as \uN? escapes.
func rtfFile(title string, paras []string) []byte {
	var b bytes.Buffer
	b.WriteString("{\\rtf1\\ansi\\ansicpg1251\\deff0\\uc1{\\fonttbl{\\f0\\froman\\fcharset204 Times New Roman;}}\r\n")
	b.WriteString("{\\info{\\title " + rtfEscape(title) + "}}\r\n\\f0\\fs24\r\n")
	for i, p := range paras {
		if i == 0 {
			b.WriteString("{\\qc\\b " + rtfEscape(p) + "\\par}\r\n")
			continue
		}
		b.WriteString(rtfEscape(p) + "\\par\r\n")
	}
	b.WriteString("}")
	return b.Bytes()
}

func rtfEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\' || r == '{' || r == '}':
			b.WriteString("\\" + string(r))
		case r < 0x80:
			b.WriteRune(r)
		default:
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, "\\u%d?", int16(u))
			}
		}
	}
	return b.String()
}

const odtMime = "application/vnd.oasis.opendocument.text"

// odtFile builds an OpenDocument text: mimetype stored uncompressed first,
// then the manifest, content and meta.
func odtFile(title string, paras []string) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	mt := []byte(odtMime)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "mimetype", Method: zip.Store, CRC32: crc32.ChecksumIEEE(mt),
		CompressedSize64: uint64(len(mt)), UncompressedSize64: uint64(len(mt))})
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(mt); err != nil {
		return nil, err
	}
	var content strings.Builder
	content.WriteString(xml.Header + `<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:text>`)
	for i, p := range paras {
		tag := "text:p"
		if i == 0 {
			tag = `text:h text:outline-level="1"`
		}
		content.WriteString("<" + tag + ">" + xmlEscape(p) + "</" + strings.Fields(tag)[0] + ">")
	}
	content.WriteString(`</office:text></office:body></office:document-content>`)
	files := []struct{ name, body string }{
		{"META-INF/manifest.xml", xml.Header + `<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">` +
			`<manifest:file-entry manifest:full-path="/" manifest:version="1.2" manifest:media-type="` + odtMime + `"/>` +
			`<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>` +
			`<manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/></manifest:manifest>`},
		{"content.xml", content.String()},
		{"meta.xml", xml.Header + `<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/" office:version="1.2"><office:meta><dc:title>` +
			xmlEscape(title) + `</dc:title></office:meta></office:document-meta>`},
	}
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(f.body)); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// pngFile draws a deterministic picture of w×h.
func pngFile(w, h int, seed uint32) ([]byte, error) {
	img := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.White, color.Black, color.RGBA{0x1f, 0x4e, 0x9d, 0xff}})
	for y := range h {
		for x := range w {
			switch {
			case x == 0 || y == 0 || x == w-1 || y == h-1:
				img.SetColorIndex(x, y, 1)
			case (uint32(x/8)*2654435761^uint32(y/6)*seed)%7 == 0:
				img.SetColorIndex(x, y, 2)
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
