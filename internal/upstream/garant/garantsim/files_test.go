package garantsim

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"image/png"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// download fetches a file and checks its type and length headers.
func download(t *testing.T, path, contentType string) []byte {
	t.Helper()
	_, ts := newTest(t)
	r := call(t, ts, "GET", path, DemoToken, nil)
	if r.status != 200 || r.header.Get("Content-Type") != contentType || r.header.Get("Content-Length") != strconv.Itoa(len(r.body)) {
		t.Fatalf("GET %s = %d %q length %q (%d bytes), want 200 %q with Content-Length", path, r.status,
			r.header.Get("Content-Type"), r.header.Get("Content-Length"), len(r.body), contentType)
	}
	return r.body
}

func TestRTFIsRTF(t *testing.T) {
	t.Parallel()
	b := string(download(t, "/v2/topic/10900200/download", "application/rtf"))
	if !strings.HasPrefix(b, `{\rtf1`) || !strings.HasSuffix(b, "}") {
		t.Fatalf("RTF = %.40q ... %q, want {\\rtf1 ... }", b, b[len(b)-5:])
	}
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++ // escaped character or control word start
		case '{':
			depth++
		case '}':
			depth--
		}
		if depth < 0 {
			t.Fatalf("RTF braces unbalanced at %d", i)
		}
	}
	if depth != 0 {
		t.Errorf("RTF brace depth at end = %d, want 0", depth)
	}
	// "Гражданский" as \uN? escapes (Г = 1043), and no raw non-ASCII.
	if !strings.Contains(b, `\u1043?\u1088?\u1072?`) || strings.ContainsFunc(b, func(r rune) bool { return r > 127 }) {
		t.Errorf("RTF = %.300q, want Cyrillic only as \\uN? escapes", b)
	}
}

func TestODTIsODT(t *testing.T) {
	t.Parallel()
	b := download(t, "/v2/topic/10900200/download-odt", odtMime)
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("zip.NewReader(ODT) = %v", err)
	}
	first := zr.File[0]
	if first.Name != "mimetype" || first.Method != zip.Store || len(first.Extra) != 0 {
		t.Fatalf("first ODT entry = %q method %d extra %d, want mimetype stored without extra", first.Name, first.Method, len(first.Extra))
	}
	// The mimetype sits at offset 38 for format sniffers.
	if got := string(b[30:38]); got != "mimetype" || string(b[38:38+len(odtMime)]) != odtMime {
		t.Errorf("ODT bytes 30..%d = %q, want mimetype then %q", 38+len(odtMime), b[30:38+len(odtMime)], odtMime)
	}
	names := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("read %s: %v", f.Name, err)
		}
		names[f.Name] = string(body)
	}
	for _, n := range []string{"META-INF/manifest.xml", "content.xml", "meta.xml"} {
		if err := xml.Unmarshal([]byte(names[n]), new(struct{})); err != nil {
			t.Errorf("ODT %s is not XML: %v", n, err)
		}
	}
	if !strings.Contains(names["content.xml"], "Гражданский кодекс") {
		t.Errorf("content.xml = %.200s, want the document text", names["content.xml"])
	}
}

func TestPDFIsPDF(t *testing.T) {
	t.Parallel()
	b := download(t, "/v2/topic/10900200/download-pdf", "application/pdf")
	s := string(b)
	if !strings.HasPrefix(s, "%PDF-1.") || !strings.HasSuffix(strings.TrimSpace(s), "%%EOF") {
		t.Fatalf("PDF = %.20q ... %q, want %%PDF- ... %%%%EOF", s, s[len(s)-10:])
	}
	m := regexp.MustCompile(`startxref\n(\d+)\n%%EOF`).FindStringSubmatch(s)
	if m == nil {
		t.Fatal("PDF has no startxref")
	}
	off, _ := strconv.Atoi(m[1])
	if !strings.HasPrefix(s[off:], "xref\n0 ") {
		t.Fatalf("startxref %d points at %.10q, want the xref table", off, s[off:])
	}
	lines := strings.Split(s[off:], "\n")
	n, _ := strconv.Atoi(strings.Fields(lines[1])[1])
	if n < 6 {
		t.Fatalf("xref has %d entries, want catalog, pages, font, info and pages", n)
	}
	for i := 1; i < n; i++ {
		entry := lines[2+i]
		o, err := strconv.Atoi(entry[:10])
		if err != nil || len(entry) != 19 || !strings.HasPrefix(s[o:], strconv.Itoa(i)+" 0 obj") {
			t.Errorf("xref entry %d = %q, want the offset of object %d", i, entry, i)
		}
	}
	if !strings.Contains(s, "/Type /Catalog") || !strings.Contains(s, "Grazhdanskiy kodeks") {
		t.Errorf("PDF lacks the catalog or the (transliterated) text")
	}
}

func TestImagesArePNG(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/v2/image/" + strconv.Itoa(ImageExample), "/v2/formula?text=" + FormulaExample + "&fmt=png"} {
		b := download(t, path, "image/png")
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil || img.Bounds().Dx() == 0 {
			t.Errorf("png.Decode(GET %s) = %v, want a picture", path, err)
		}
	}
}
