package fipssim

import (
	"net/http"
	"slices"
)

// appTypes lists the application type codes with their statement codes.
func appTypes() map[string][]string {
	return map[string][]string{
		"TMApplication": {"TradeMark"},
		"AOApplication": {"AppellationOrigin", "AppellationOriginUsage"},
		"GeoIndication": {"GeoIndication", "GeoIndicationUsage"},
		"Invention":     {"Invention"},
		"UsefulModel":   {"UsefulModel"},
	}
}

type category struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// categories is the applicant-category dictionary; each name is the full path.
func categories() []category {
	return []category{
		{`Юридическое лицо\Российская организация\Коммерческая организация`, "Российское юридическое лицо, созданное для извлечения прибыли"},
		{`Юридическое лицо\Российская организация\Некоммерческая организация`, "Российское юридическое лицо, не преследующее извлечение прибыли"},
		{`Юридическое лицо\Российская организация\Государственный заказчик`, "Федеральный орган исполнительной власти или государственный заказчик"},
		{`Юридическое лицо\Иностранная организация`, "Юридическое лицо, зарегистрированное за пределами Российской Федерации"},
		{`Физическое лицо\Гражданин Российской Федерации`, "Физическое лицо, гражданин Российской Федерации"},
		{`Физическое лицо\Индивидуальный предприниматель`, "Физическое лицо, зарегистрированное в качестве индивидуального предпринимателя"},
		{`Физическое лицо\Иностранный гражданин`, "Иностранный гражданин или лицо без гражданства"},
	}
}

func knownCategory(name string) bool {
	return slices.ContainsFunc(categories(), func(c category) bool { return c.Name == name })
}

// template is a common document template (type).
type template struct {
	Name        string `json:"name"`
	Code        string `json:"code,omitempty"`
	Description string `json:"description"`
	structured  bool
}

// templates is the common document-template dictionary.
func templates() []template {
	return []template{
		{"Заявление на ТЗ", "TradeMark", "Заявление о государственной регистрации товарного знака, знака обслуживания", true},
		{"Заявление на НМПТ и ПНМПТ", "AppellationOrigin", "Заявление о регистрации НМПТ и предоставлении исключительного права", true},
		{"Заявление на ПНМПТ", "AppellationOriginUsage", "Заявление о предоставлении исключительного права на ранее зарегистрированное НМПТ", true},
		{"Заявление на ГУ и ПГУ", "GeoIndication", "Заявление о регистрации ГУ и предоставлении исключительного права", true},
		{"Заявление на ПГУ", "GeoIndicationUsage", "Заявление о предоставлении исключительного права на ранее зарегистрированное ГУ", true},
		{"Заявление на ИЗ", "Invention", "Заявление о выдаче патента Российской Федерации на изобретение", true},
		{"Заявление на ПМ", "UsefulModel", "Заявление о выдаче патента Российской Федерации на полезную модель", true},
		{"Доверенность", "PowerOfAttorney", "Доверенность на представителя или патентного поверенного", false},
		{"Документ об уплате пошлины", "PaymentDocument", "Платёжный документ об уплате патентной пошлины", false},
		{"Изображение", "Image", "Изображение заявляемого обозначения", false},
		{"Описание", "Description", "Описание изобретения или полезной модели", false},
		{"Формула", "Claims", "Формула изобретения или полезной модели", false},
		{"Реферат", "Abstract", "Реферат изобретения или полезной модели", false},
		{"Чертежи", "Drawings", "Чертежи и иные материалы", false},
		{"Перечень товаров и услуг", "GoodsList", "Перечень товаров и услуг по МКТУ", false},
		{"Ходатайство", "", "Ходатайство в произвольной форме", false},
		{"Письмо", "", "Письмо в произвольной форме", false},
	}
}

// notification is the incoming document FIPS adds on registration.
func notification() template {
	return template{Name: "Уведомление о поступлении заявки", Code: "Notification", Description: "Уведомление ФИПС"}
}

// applicantTemplate is a document template of the applicant's own library;
// it creates an unstructured document of the common type named in base.
type applicantTemplate struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	base        string
}

func applicantTemplates() []applicantTemplate {
	return []applicantTemplate{
		{"Доверенность на патентного поверенного", "Типовая доверенность заявителя на ведение дел в ФИПС", "PowerOfAttorney"},
		{"Устав организации", "Копия устава заявителя", "Письмо"},
		{"Платёжное поручение (шаблон)", "Шаблон платёжного поручения об уплате пошлины", "PaymentDocument"},
	}
}

// findTemplate resolves a document type by code or, failing that, by title.
func findTemplate(code, title string) (template, bool) {
	all := templates()
	for _, t := range all {
		if code != "" && t.Code == code && (title == "" || title == t.Name) {
			return t, true
		}
		if code == "" && title != "" && t.Name == title {
			return t, true
		}
	}
	if code != "" {
		return template{}, false
	}
	for _, at := range applicantTemplates() {
		if at.Name == title {
			for _, t := range all {
				if t.Code == at.base || t.Name == at.base {
					return template{Name: at.Name, Code: t.Code, Description: at.Description}, true
				}
			}
		}
	}
	return template{}, false
}

func (s *Server) applicantCategories(w http.ResponseWriter, r *http.Request, c *account) error {
	writeJSON(w, http.StatusOK, categories())
	return nil
}

func (s *Server) applicantDocumentTypes(w http.ResponseWriter, r *http.Request, c *account) error {
	writeJSON(w, http.StatusOK, applicantTemplates())
	return nil
}

func (s *Server) documentTypes(w http.ResponseWriter, r *http.Request, c *account) error {
	writeJSON(w, http.StatusOK, templates())
	return nil
}
