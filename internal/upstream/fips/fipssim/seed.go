package fipssim

import (
	"fmt"
	"html"
	"math/rand/v2"
	"strings"
	"time"
)

// seedApplications gives key n deterministic applications, cycling through
// five shapes: a registered trademark with an unread notification, a
// registered invention, a trademark draft ready to submit, a utility-model
// draft with an empty statement and a geographical-indication draft without
// documents.
func (s *Server) seedApplications(rng *rand.Rand, key string, n int) {
	c := s.accounts[key]
	if c == nil {
		return
	}
	const commercial = `Юридическое лицо\Российская организация\Коммерческая организация`
	base := time.Date(2026, time.January, 12, 10, 0, 0, 0, s.loc)
	for i := range n {
		at := base.Add(time.Duration(i)*9*24*time.Hour + time.Duration(rng.IntN(8*60))*time.Minute)
		word := []string{"СОЛНЕЧНЫЙ БЕРЕГ", "ВЕКТОР", "ЗЕЛЁНАЯ МИЛЯ", "ТЁПЛЫЙ ДОМ"}[rng.IntN(4)]
		switch i % 5 {
		case 0:
			a := s.addApplication(c, "TMApplication", commercial, fmt.Sprintf("Товарный знак «%s»", word), at)
			s.seedStatement(a, c, at, word)
			s.seedFile(a, "Image", "mark.png", "image/png", []byte("\x89PNG\r\n\x1a\nfipssim "+word), at)
			s.seedFile(a, "PaymentDocument", "payment.pdf", "application/pdf", fakePDF("Пошлина за регистрацию ТЗ"), at)
			s.seedSign(a, c, at)
			s.register(a, at.Add(2*24*time.Hour))
		case 1:
			a := s.addApplication(c, "Invention", commercial, "Способ очистки сточных вод", at)
			s.seedStatement(a, c, at, a.title)
			for _, code := range []string{"Description", "Claims", "Abstract"} {
				s.seedFile(a, code, strings.ToLower(code)+".pdf", "application/pdf", fakePDF(code+": "+a.title), at)
			}
			s.register(a, at.Add(24*time.Hour))
			for _, d := range a.docs {
				d.read = true
			}
		case 2:
			a := s.addApplication(c, "TMApplication", commercial, fmt.Sprintf("Товарный знак «%s» (черновик)", word), at)
			s.seedStatement(a, c, at, word)
			s.seedFile(a, "PaymentDocument", "payment.pdf", "application/pdf", fakePDF("Пошлина за регистрацию ТЗ"), at)
		case 3:
			a := s.addApplication(c, "UsefulModel", commercial, "Держатель для смартфона", at)
			t, _ := findTemplate("UsefulModel", "")
			s.addDocument(a, t, at)
		default:
			s.addApplication(c, "GeoIndication", commercial, "Вологодское кружево", at)
		}
	}
}

func (s *Server) seedStatement(a *application, c *account, at time.Time, subject string) {
	code := appTypes()[a.typ][0]
	t, _ := findTemplate(code, "")
	d := s.addDocument(a, t, at)
	d.fileName = "statement.xml"
	d.setContent(SampleStatement(code, c.name, subject), "application/xml", at)
	d.flk = flkPassed
	if errs := checkStatement(code, d.content); len(errs) > 0 {
		panic(fmt.Sprintf("fipssim: seeded statement fails ФЛК: %v", errs)) // a bug in SampleStatement
	}
}

func (s *Server) seedFile(a *application, code, name, contentType string, data []byte, at time.Time) {
	t, _ := findTemplate(code, "")
	d := s.addDocument(a, t, at)
	d.fileName = name
	d.setContent(data, contentType, at)
}

func (s *Server) seedSign(a *application, c *account, at time.Time) {
	for _, d := range a.docs {
		cms := []byte("0\x82fipssim-cms-" + d.id)
		d.signatures = append(d.signatures, s.newSignature(c, "GOST R 34.10-2012-256", cms, at))
	}
}

// SampleStatement returns a statement XML of document type code (TradeMark,
// Invention, ...) that passes the simulator's ФЛК, for tests and demos.
func SampleStatement(code, applicant, subject string) []byte {
	e := html.EscapeString
	var b strings.Builder
	fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%sStatement>\n", code)
	fmt.Fprintf(&b, "  <Applicant>\n    <Name>%s</Name>\n    <INN>7701234567</INN>\n    <OGRN>1027700123456</OGRN>\n", e(applicant))
	b.WriteString("    <Address>\n      <Country>RU</Country>\n      <Text>123995, Москва, Бережковская наб., д. 30, корп. 1</Text>\n    </Address>\n  </Applicant>\n")
	switch code {
	case "TradeMark":
		fmt.Fprintf(&b, "  <Mark>\n    <Kind>word</Kind>\n    <Text>%s</Text>\n  </Mark>\n", e(subject))
		b.WriteString("  <Goods>\n    <Class number=\"9\">программное обеспечение</Class>\n    <Class number=\"42\">разработка программного обеспечения</Class>\n  </Goods>\n")
	case "Invention", "UsefulModel":
		fmt.Fprintf(&b, "  <Title>%s</Title>\n  <Authors>\n    <Author>Иванов Иван Иванович</Author>\n  </Authors>\n", e(subject))
	default:
		fmt.Fprintf(&b, "  <Designation>%s</Designation>\n  <Product>кружевные изделия</Product>\n  <Place>Вологодская область</Place>\n", e(subject))
	}
	fmt.Fprintf(&b, "</%sStatement>\n", code)
	return []byte(b.String())
}
