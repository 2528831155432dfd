package fipssim

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"time"
)

type packageXML struct {
	XMLName   xml.Name     `xml:"Package"`
	Version   string       `xml:"version,attr"`
	ID        string       `xml:"id,attr"`
	Type      string       `xml:"type,attr"`
	Category  string       `xml:"Application>Category"`
	Title     string       `xml:"Application>Title"`
	Applicant string       `xml:"Application>Applicant"`
	CreatedAt string       `xml:"Application>CreatedAt"`
	Documents []packageDoc `xml:"Documents>Document"`
}

type packageDoc struct {
	ID          string       `xml:"id,attr"`
	Type        string       `xml:"type,attr,omitempty"`
	Structured  bool         `xml:"structured,attr"`
	Title       string       `xml:"Title"`
	FileName    string       `xml:"FileName,omitempty"`
	ContentType string       `xml:"ContentType,omitempty"`
	Size        int          `xml:"Size"`
	Digest      packageHash  `xml:"Digest"`
	Signatures  []packageSig `xml:"Signatures>Signature"`
}

type packageHash struct {
	Algorithm string `xml:"algorithm,attr"`
	Value     string `xml:",chardata"`
}

type packageSig struct {
	Algorithm         string      `xml:"algorithm,attr"`
	CertificateSerial string      `xml:"certificateSerial,attr"`
	Digest            packageHash `xml:"Digest"`
}

// packageBytes renders the package of a: its attributes and its outgoing
// documents with SHA-256 digests. It depends on the state only.
func packageBytes(a *application) []byte {
	p := packageXML{
		Version: "1", ID: a.id, Type: a.typ, Category: a.category, Title: a.title,
		Applicant: a.ownerName, CreatedAt: a.created.Format(time.RFC3339),
	}
	for _, d := range a.docs {
		if d.incoming {
			continue
		}
		pd := packageDoc{
			ID: d.id, Type: d.code, Structured: d.structured, Title: d.title, FileName: d.fileName,
			ContentType: d.contentType, Size: len(d.content), Digest: packageHash{"SHA-256", digest(d.content)},
		}
		for _, sig := range d.signatures {
			pd.Signatures = append(pd.Signatures, packageSig{sig.Algorithm, sig.CertificateSerial, packageHash{"SHA-256", sig.Digest}})
		}
		p.Documents = append(p.Documents, pd)
	}
	out, err := xml.MarshalIndent(p, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("fipssim: package xml: %v", err)) // only plain strings and ints: cannot fail
	}
	return append([]byte(xml.Header), append(out, '\n')...)
}

func (s *Server) getPackage(w http.ResponseWriter, r *http.Request, c *account) error {
	s.mu.Lock()
	a, err := s.findApp(c, r.PathValue("id"))
	if err != nil {
		s.mu.Unlock()
		return err
	}
	b := packageBytes(a)
	s.mu.Unlock()
	writeContent(w, b, "application/xml", "package-"+a.id+".xml")
	return nil
}

// incomplete lists why a cannot be registered yet.
func incomplete(a *application) []fieldError {
	var errs []fieldError
	hasStatement := false
	for _, d := range a.docs {
		field := "documents/" + d.id
		switch {
		case d.incoming:
		case d.structured && d.flk != flkPassed:
			errs = append(errs, fieldError{"FLK_STATEMENT", field, "Заявление не прошло ФЛК"})
		case !d.structured && len(d.content) == 0:
			errs = append(errs, fieldError{"FLK_EMPTY", field, "Документ без содержимого"})
		}
		hasStatement = hasStatement || d.structured
	}
	if !hasStatement {
		errs = append(errs, fieldError{"FLK_REQUIRED", "documents", "В заявке нет заявления"})
	}
	return errs
}

type registration struct {
	ID                 string    `json:"id"`
	Status             string    `json:"status"`
	RegistrationNumber string    `json:"registrationNumber"`
	RegistrationDate   time.Time `json:"registrationDate"`
	IncomingNumber     string    `json:"incomingNumber"`
}

// submit takes the detached signature of the package and registers a.
func (s *Server) submit(w http.ResponseWriter, r *http.Request, c *account) error {
	var in struct {
		Algorithm string `json:"algorithm"`
		Signature string `json:"signature"`
	}
	sigs, err := readSignatures(w, r, func() ([]signatureInput, error) {
		err := decodeJSON(w, r, &in)
		return []signatureInput{{Algorithm: in.Algorithm, Value: in.Signature}}, err
	})
	if err != nil {
		return err
	}
	if len(sigs) != 1 {
		return errFLK(fieldError{"FLK_REQUIRED", "signature", "Передайте одну подпись пакета"})
	}
	in.Algorithm, in.Signature = sigs[0].Algorithm, sigs[0].Value
	cms, bad := decodeSignature(in.Algorithm, in.Signature)
	if bad != nil {
		for i := range bad.Errors {
			bad.Errors[i].Field = strings.Replace(bad.Errors[i].Field, "value", "signature", 1)
		}
		return bad
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.findApp(c, r.PathValue("id"))
	if err != nil {
		return err
	}
	if a.status != statusDraft {
		return newError(http.StatusConflict, "Заявка уже отправлена на регистрацию: "+a.regNum)
	}
	if errs := incomplete(a); len(errs) > 0 {
		return newError(http.StatusConflict, "Пакет заявки не готов к отправке", errs...)
	}
	sig := s.newSignature(c, in.Algorithm, cms, s.now())
	a.pkgSig = &sig
	s.register(a, s.now())
	writeJSON(w, http.StatusOK, registration{a.id, a.status, a.regNum, a.regDate, a.incoming})
	return nil
}

// register gives a and its outgoing documents registration numbers and adds
// the incoming notification of FIPS, unread.
func (s *Server) register(a *application, now time.Time) {
	s.st.nextReg++
	seq := s.st.nextReg
	a.status, a.regDate, a.updated = statusRegistered, now, now
	a.regNum = regNumber(a.typ, now.Year(), seq)
	a.incoming = fmt.Sprintf("%d-%06d", now.Year(), seq)
	s.st.byReg[a.regNum] = a
	n := 0
	for _, d := range a.docs {
		if d.regNum == "" {
			n++
			d.regNum = fmt.Sprintf("%s-%d", a.regNum, n)
		}
	}
	t := notification()
	d := s.addDocument(a, t, now)
	d.incoming, d.regNum = true, fmt.Sprintf("%s-%d", a.regNum, n+1)
	d.fileName = "notification-" + a.regNum + ".pdf"
	d.setContent(fakePDF("Уведомление о поступлении заявки "+a.regNum+" от "+now.Format("02.01.2006")), "application/pdf", now)
}

// regNumber formats a registration number: TMA260537887 for trademarks,
// 2026712345 for inventions and utility models.
func regNumber(typ string, year, seq int) string {
	prefix := map[string]string{"TMApplication": "TMA", "AOApplication": "AOA", "GeoIndication": "GIA"}[typ]
	if prefix != "" {
		return fmt.Sprintf("%s%02d%07d", prefix, year%100, seq%10_000_000)
	}
	return fmt.Sprintf("%04d%06d", year, seq%1_000_000)
}

// fakePDF is a small deterministic PDF-like file.
func fakePDF(text string) []byte {
	return []byte("%PDF-1.4\n% fipssim\n1 0 obj << /Title (" + text + ") >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
}
