package fipssim

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// The simulator's statement schema (the real one is the ARM "Registrator"
// XSD, not public). Every statement has the root <{Code}Statement> and
//
//	<Applicant>
//	  <Name>…</Name>                      required
//	  <INN>…</INN> <OGRN>…</OGRN>         optional; 10/12 and 13/15 digits
//	  <Address><Country>RU</Country><Text>…</Text></Address>   required
//	</Applicant>
//
// TradeMark adds <Mark><Kind>word|figurative|combined|volumetric|sound</Kind>
// <Text>…</Text></Mark> (Text required for word and combined) and
// <Goods><Class number="1..45">goods and services</Class>…</Goods> (МКТУ, at
// least one, no repeats). AppellationOrigin*, GeoIndication* add
// <Designation>, <Product> and <Place>; Invention and UsefulModel add <Title>
// and <Authors><Author>…</Author>…</Authors>.

type statementXML struct {
	XMLName   xml.Name
	Applicant struct {
		Name    string `xml:"Name"`
		INN     string `xml:"INN"`
		OGRN    string `xml:"OGRN"`
		Address struct {
			Country string `xml:"Country"`
			Text    string `xml:"Text"`
		} `xml:"Address"`
	} `xml:"Applicant"`
	Mark *struct {
		Kind string `xml:"Kind"`
		Text string `xml:"Text"`
	} `xml:"Mark"`
	Goods []struct {
		Number string `xml:"number,attr"`
		Text   string `xml:",chardata"`
	} `xml:"Goods>Class"`
	Designation string   `xml:"Designation"`
	Product     string   `xml:"Product"`
	Place       string   `xml:"Place"`
	Title       string   `xml:"Title"`
	Authors     []string `xml:"Authors>Author"`
}

// checkStatement runs the ФЛК of a statement of document type code.
func checkStatement(code string, data []byte) []fieldError {
	if err := wellFormed(data); err != nil {
		return []fieldError{*err}
	}
	var st statementXML
	if err := xml.Unmarshal(data, &st); err != nil {
		return []fieldError{{"FLK_XML", "", "Некорректный XML заявления"}}
	}
	if want := code + "Statement"; st.XMLName.Local != want {
		return []fieldError{{"FLK_ROOT", st.XMLName.Local, fmt.Sprintf("Корневой элемент должен быть %s", want)}}
	}
	var errs []fieldError
	add := func(code, field, msg string) { errs = append(errs, fieldError{code, field, msg}) }
	required := func(v, field, what string) {
		if strings.TrimSpace(v) == "" {
			add("FLK_REQUIRED", field, "Не заполнено: "+what)
		}
	}
	required(st.Applicant.Name, "Applicant/Name", "наименование (ФИО) заявителя")
	required(st.Applicant.Address.Text, "Applicant/Address/Text", "адрес заявителя")
	if c := strings.TrimSpace(st.Applicant.Address.Country); !regexp.MustCompile(`^[A-Z]{2}$`).MatchString(c) {
		add("FLK_FORMAT", "Applicant/Address/Country", "Код страны — две латинские буквы по ST.3 (например, RU)")
	}
	if v := strings.TrimSpace(st.Applicant.INN); v != "" && !regexp.MustCompile(`^(\d{10}|\d{12})$`).MatchString(v) {
		add("FLK_FORMAT", "Applicant/INN", "ИНН состоит из 10 или 12 цифр")
	}
	if v := strings.TrimSpace(st.Applicant.OGRN); v != "" && !regexp.MustCompile(`^(\d{13}|\d{15})$`).MatchString(v) {
		add("FLK_FORMAT", "Applicant/OGRN", "ОГРН (ОГРНИП) состоит из 13 (15) цифр")
	}
	switch code {
	case "TradeMark":
		errs = append(errs, checkMark(st)...)
	case "AppellationOrigin", "AppellationOriginUsage", "GeoIndication", "GeoIndicationUsage":
		required(st.Designation, "Designation", "заявляемое обозначение")
		required(st.Product, "Product", "товар")
		required(st.Place, "Place", "место происхождения (производства) товара")
	case "Invention", "UsefulModel":
		required(st.Title, "Title", "название")
		if len(st.Authors) == 0 {
			add("FLK_REQUIRED", "Authors/Author", "Не указан ни один автор")
		}
		for i, a := range st.Authors {
			required(a, fmt.Sprintf("Authors/Author[%d]", i+1), "ФИО автора")
		}
	}
	return errs
}

func checkMark(st statementXML) []fieldError {
	var errs []fieldError
	kinds := map[string]bool{"word": true, "figurative": true, "combined": true, "volumetric": true, "sound": true}
	switch {
	case st.Mark == nil:
		errs = append(errs, fieldError{"FLK_REQUIRED", "Mark", "Не заполнено: заявляемое обозначение"})
	case !kinds[strings.TrimSpace(st.Mark.Kind)]:
		errs = append(errs, fieldError{"FLK_ENUM", "Mark/Kind", "Вид обозначения: word, figurative, combined, volumetric или sound"})
	case (st.Mark.Kind == "word" || st.Mark.Kind == "combined") && strings.TrimSpace(st.Mark.Text) == "":
		errs = append(errs, fieldError{"FLK_REQUIRED", "Mark/Text", "Не заполнено: словесный элемент обозначения"})
	}
	if len(st.Goods) == 0 {
		errs = append(errs, fieldError{"FLK_REQUIRED", "Goods/Class", "Не указан ни один класс МКТУ"})
	}
	seen := map[int]bool{}
	for i, g := range st.Goods {
		field := fmt.Sprintf("Goods/Class[%d]", i+1)
		n, err := strconv.Atoi(strings.TrimSpace(g.Number))
		switch {
		case err != nil || n < 1 || n > 45:
			errs = append(errs, fieldError{"FLK_MKTU_CLASS", field + "/@number", "Класс МКТУ — число от 1 до 45"})
		case seen[n]:
			errs = append(errs, fieldError{"FLK_DUPLICATE", field + "/@number", fmt.Sprintf("Класс МКТУ %d указан повторно", n)})
		}
		seen[n] = true
		if strings.TrimSpace(g.Text) == "" {
			errs = append(errs, fieldError{"FLK_REQUIRED", field, "Не указан перечень товаров и услуг класса"})
		}
	}
	return errs
}

// wellFormed reads every token of data: one root element, valid UTF-8 XML.
func wellFormed(data []byte) *fieldError {
	dec := xml.NewDecoder(bytes.NewReader(data))
	roots, depth := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return &fieldError{"FLK_XML", "", fmt.Sprintf("Некорректный XML, строка %d", se.Line)}
			}
			return &fieldError{"FLK_XML", "", "Некорректный XML: ожидается кодировка UTF-8"}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return &fieldError{"FLK_XML", "", "Некорректный XML: текст вне корневого элемента"}
			}
		}
	}
	if roots != 1 {
		return &fieldError{"FLK_XML", "", "Некорректный XML: должен быть ровно один корневой элемент"}
	}
	return nil
}
