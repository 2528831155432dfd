package fssp_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/legalgate/legalgate/internal/upstream/fssp"
)

func ptr[T any](v T) *T { return &v }

func date(s string) fssp.Date {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return fssp.Date{Time: t}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want fssp.Record
	}{{
		name: "individual, consolidated, ended",
		raw: `{"name":"ИВАНОВ ИВАН ИВАНОВИЧ 01.02.1980 РОССИЯ, Г. МОСКВА",
			"exe_production":"12345/21/77001-ИП от 15.03.2021 6789/20/77001-СД",
			"details":"Судебный приказ от 22.04.2016 № 2-383/2016 СУДЕБНЫЙ УЧАСТОК №\u00a096",
			"subject":"Задолженность по кредитным платежам (кроме ипотеки): 212776.4 руб. Исполнительский сбор: 14894.35 руб.",
			"department":"Останкинский ОСП 129347, г. Москва",
			"bailiff":"ПЕТРОВ П. П. +7(499)558-16-04<br>+7(499)558-16-04<br>",
			"ip_end":"2022-06-30, 46, 1, 3"}`,
		want: fssp.Record{
			Debtor:     fssp.Debtor{Name: "ИВАНОВ ИВАН ИВАНОВИЧ", BirthDate: ptr(date("1980-02-01")), Birthplace: ptr("РОССИЯ, Г. МОСКВА")},
			Proceeding: fssp.Proceeding{Number: "12345/21/77001-ИП", Date: date("2021-03-15"), ConsolidatedNumber: ptr("6789/20/77001-СД")},
			Document:   fssp.Document{Details: "Судебный приказ от 22.04.2016 № 2-383/2016 СУДЕБНЫЙ УЧАСТОК № 96"},
			Subject: fssp.Subject{
				Text: "Задолженность по кредитным платежам (кроме ипотеки): 212776.4 руб. Исполнительский сбор: 14894.35 руб.",
				Amounts: []fssp.Amount{
					{Label: ptr("Задолженность по кредитным платежам (кроме ипотеки)"), Amount: 212776.4, Currency: "RUB"},
					{Label: ptr("Исполнительский сбор"), Amount: 14894.35, Currency: "RUB"},
				},
			},
			Department: "Останкинский ОСП 129347, г. Москва",
			Bailiff:    fssp.Bailiff{Name: "ПЕТРОВ П. П.", Phones: []string{"+7(499)558-16-04"}},
			End:        &fssp.End{Date: date("2022-06-30"), Article: 46, Part: 1, Clause: 3},
		},
	}, {
		name: "official doc example: integer department, bare phone, no birthplace",
		raw: `{"name":"ИВАНОВ СЕРГЕЙ ПЕТРОВИЧ 09.06.1982","exe_production":"6860/12/61/66 от 16.04.2012",
			"details":"Исполнительный лист от 20.03.2012 № ВС 049652131","subject":"Коммунальные платежи",
			"department":66061,"bailiff":"НИТОЧКИНА B. И. 73434246653","ip_end":""}`,
		want: fssp.Record{
			Debtor:     fssp.Debtor{Name: "ИВАНОВ СЕРГЕЙ ПЕТРОВИЧ", BirthDate: ptr(date("1982-06-09"))},
			Proceeding: fssp.Proceeding{Number: "6860/12/61/66", Date: date("2012-04-16")},
			Document:   fssp.Document{Details: "Исполнительный лист от 20.03.2012 № ВС 049652131"},
			Subject:    fssp.Subject{Text: "Коммунальные платежи", Amounts: []fssp.Amount{}},
			Department: "66061",
			Bailiff:    fssp.Bailiff{Name: "НИТОЧКИНА B. И.", Phones: []string{"+73434246653"}},
		},
	}, {
		name: "entity, plus sent as a space, empty subject",
		raw: `{"name":"ООО \"РОМАШКА\" 125009, РОССИЯ, Г. МОСКВА, УЛ. ЛЕНИНА, Д. 1","exe_production":"1/24/77001-ИП от 01.02.2024",
			"details":"","subject":"","department":"ОСП","bailiff":"КИМ А. С.  7(812)000-11-22<br> 7(812)000-11-22<br>","ip_end":"bad"}`,
		want: fssp.Record{
			Debtor:     fssp.Debtor{Name: `ООО "РОМАШКА"`, Address: ptr("125009, РОССИЯ, Г. МОСКВА, УЛ. ЛЕНИНА, Д. 1")},
			Proceeding: fssp.Proceeding{Number: "1/24/77001-ИП", Date: date("2024-02-01")},
			Subject:    fssp.Subject{Amounts: []fssp.Amount{}},
			Department: "ОСП",
			Bailiff:    fssp.Bailiff{Name: "КИМ А. С.", Phones: []string{"+7(812)000-11-22"}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var raw fssp.RawRecord
			if err := json.Unmarshal([]byte(tt.raw), &raw); err != nil {
				t.Fatal(err)
			}
			got := fssp.Normalize(raw)
			got.Raw = fssp.Raw{}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Normalize(%s) mismatch (-want +got):\n%s", tt.raw, diff)
			}
		})
	}
}

func TestValidation(t *testing.T) {
	for _, tt := range []struct {
		v    string
		want bool
	}{{"12345/21/77001-ИП", true}, {"6860/12/61/66", true}, {"1/21/77/00", false}, {"12345/21/7700-ИП", false}, {"abc", false}, {"12345678901/21/77001-ИП", false}} {
		if got := fssp.ValidNumber(tt.v); got != tt.want {
			t.Errorf("ValidNumber(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
	for _, tt := range []struct {
		v    string
		want bool
	}{{"01.02.1980", true}, {"29.02.2001", false}, {"1.2.1980", false}, {"31.04.1990", false}} {
		if got := fssp.ValidBirthdate(tt.v); got != tt.want {
			t.Errorf("ValidBirthdate(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
	for _, tt := range []struct {
		v    int
		want bool
	}{{-1, true}, {77, true}, {0, false}, {100, false}, {150, true}, {-2, false}} {
		if got := fssp.ValidRegion(tt.v); got != tt.want {
			t.Errorf("ValidRegion(%d) = %v, want %v", tt.v, got, tt.want)
		}
	}
}
