package garantsim

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf16"
)

const (
	pdfLineWidth    = 95 // characters
	pdfLinesPerPage = 60
	pdfMaxPages     = 40
)

// pdfFile lays paragraphs out on A4 pages in Helvetica. The standard fonts
// carry no Cyrillic, so the body is transliterated; the document title in
// the Info dictionary stays Cyrillic (UTF-16BE).
func pdfFile(title string, paras []string) []byte {
	var lines []string
	for _, p := range paras {
		lines = append(lines, wrap(translit(p), pdfLineWidth)...)
		lines = append(lines, "")
	}
	var pages [][]string
	for len(lines) > 0 && len(pages) < pdfMaxPages {
		n := min(pdfLinesPerPage, len(lines))
		pages = append(pages, lines[:n])
		lines = lines[n:]
	}

	var b bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	kids := make([]string, len(pages))
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 5+2*i)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(pages)))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	obj("<< /Title " + pdfUTF16(title) + " /Producer (garantsim) >>")
	for i, page := range pages {
		var content strings.Builder
		content.WriteString("BT /F1 10 Tf 13 TL 50 800 Td\n")
		for _, l := range page {
			content.WriteString("(" + pdfEscape(l) + ") Tj T*\n")
		}
		content.WriteString("ET")
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 6+2*i))
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", content.Len(), content.String()))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

func pdfUTF16(s string) string {
	var b strings.Builder
	b.WriteString("<FEFF")
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	b.WriteString(">")
	return b.String()
}

func pdfEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`).Replace(s)
}

func wrap(s string, width int) []string {
	var out []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			out = append(out, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(out, line)
}

// translit turns Cyrillic into ASCII (GOST-like) for the standard PDF fonts.
func translit(s string) string {
	table := map[rune]string{'а': "a", 'б': "b", 'в': "v", 'г': "g", 'д': "d", 'е': "e", 'ё': "e", 'ж': "zh", 'з': "z",
		'и': "i", 'й': "y", 'к': "k", 'л': "l", 'м': "m", 'н': "n", 'о': "o", 'п': "p", 'р': "r", 'с': "s", 'т': "t",
		'у': "u", 'ф': "f", 'х': "kh", 'ц': "ts", 'ч': "ch", 'ш': "sh", 'щ': "shch", 'ъ': "", 'ы': "y", 'ь': "",
		'э': "e", 'ю': "yu", 'я': "ya", '№': "N", '«': "\"", '»': "\"", '—': "-", '–': "-"}
	var b strings.Builder
	for _, r := range s {
		lower := []rune(strings.ToLower(string(r)))[0]
		t, ok := table[lower]
		switch {
		case ok && lower != r && t != "":
			b.WriteString(strings.ToUpper(t[:1]) + t[1:])
		case ok:
			b.WriteString(t)
		case r < 0x80:
			b.WriteRune(r)
		default:
			b.WriteRune('?')
		}
	}
	return b.String()
}
