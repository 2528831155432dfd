package garantsim

import "time"

const (
	kindFederal  = "Акты органов власти\\Федеральные акты"
	kindRegional = "Акты органов власти\\Региональные акты"
	kindCourts   = "Судебная практика\\Акты судов"
	kindAnalytic = "Комментарии, статьи, консультации\\Энциклопедии и обзоры"
	adoptDuma    = "Органы законодательной власти России и СССР\\Федеральное Собрание РФ\\Государственная Дума РФ"
	adoptGov     = "Органы исполнительной власти России и СССР\\Правительство России\\Правительство РФ"
	adoptGarant  = "Компания \"Гарант\"\\Эксперты компании \"Гарант\""
	russia       = "Российская Федерация"
	statusActive = "Действующие"
	statusLost   = "Утратившие силу"
	statusFuture = "Не вступившие в силу"
)

func code(topic int, name, number string, date time.Time, size int, class string, aliases ...string) *document {
	return &document{
		topic: topic, class: classCode, name: name, types: []string{"Кодекс", "Федеральный закон"},
		adopted: []string{adoptDuma}, classes: []string{class}, date: date, number: number,
		rstatus: "Иные", category: []string{"Общие"}, status: statusActive, kinds: []string{kindFederal},
		territory: []string{russia}, access: "ACCESS_IS_FREE", envs: []string{"internet"}, force: 9,
		size: size, aliases: aliases,
	}
}

func law(topic int, name, number string, date time.Time, size int, class string) *document {
	return &document{
		topic: topic, class: classLaw, name: name, types: []string{"Федеральный закон"},
		adopted: []string{adoptDuma}, classes: []string{class}, date: date, number: number,
		rstatus: "Иные", category: []string{"Общие"}, status: statusActive, kinds: []string{kindFederal},
		territory: []string{russia}, access: "ACCESS_IS_FREE", envs: []string{"internet"}, force: 8, size: size,
	}
}

// fixedDocuments are the documents the official examples and other tests
// rely on.
func fixedDocuments() []*document {
	constitution := code(TopicConstitution, "Конституция Российской Федерации (принята всенародным голосованием 12.12.1993 с изменениями, одобренными в ходе общероссийского голосования 01.07.2020)",
		"", day(1993, 12, 12), 137, "Конституционный строй\\Основы конституционного строя",
		"Конституции Российской Федерации", "Конституции РФ")
	constitution.types, constitution.force = []string{"Конституция"}, 10
	constitution.adopted = []string{"Органы законодательной власти России и СССР\\Всенародное голосование"}

	minWage := &document{
		topic: TopicMinWageResolution, class: classResolution,
		name:  "Постановление ВС РФ от 30 марта 1993 г. N 4694-I \"О порядке введения в действие Закона Российской Федерации \"О минимальном размере оплаты труда\"",
		types: []string{"Постановление"}, adopted: []string{"Органы законодательной власти России и СССР\\Верховный Совет России\\ВС РФ (Верховный Совет России)"},
		classes: []string{classes()[2]}, date: day(1993, 3, 30), number: "4694-1", rstatus: "Иные",
		category: []string{"Общие"}, status: statusActive, kinds: []string{kindFederal}, territory: []string{russia},
		access: "ACCESS_IS_FREE", envs: []string{"internet"}, force: 7, size: 4,
	}
	abolished := &document{
		topic: TopicAbolished, class: classOrder,
		name:  "Приказ Минфина России от 19 ноября 2019 г. N 180н \"Об утверждении Порядка формирования и применения кодов бюджетной классификации\"",
		types: []string{"Приказ"}, adopted: []string{"Органы исполнительной власти России и СССР\\" + ministries()[0][1]},
		classes: []string{classes()[8]}, date: day(2019, 11, 19), number: "180н", rdate: day(2019, 12, 20), rcode: "56892",
		rstatus: "Зарегистрировано в Минюсте", category: []string{"Общие"}, status: statusLost, kinds: []string{kindFederal},
		territory: []string{russia}, access: "ACCESS_BY_REQUEST", envs: []string{"internet"}, force: 5, size: 6,
		abolished: day(2023, 12, 31),
	}
	letter := &document{
		topic: 45069704, class: classLetter, name: "Письмо Минфина России от 12 марта 2013 г. N 03-03-06/1/7531 \"О порядке учета расходов на оплату труда\"",
		types: []string{"Письмо"}, adopted: []string{"Органы исполнительной власти России и СССР\\" + ministries()[0][1]},
		classes: []string{classes()[1]}, date: day(2013, 3, 12), number: "03-03-06/1/7531", rstatus: "Иные",
		category: []string{"Общие"}, status: statusActive, kinds: []string{kindFederal}, territory: []string{russia},
		access: "ACCESS_BY_MONEY", envs: []string{"internet"}, force: 3, size: 3,
	}
	forms := &document{
		topic: 409276126, class: classOrder,
		name:  "Приказ ФНС России от 25 марта 2024 г. N ЕД-7-3/211@ \"Об утверждении формы налоговой декларации по налогу на добавленную стоимость\"",
		types: []string{"Приказ"}, adopted: []string{"Органы исполнительной власти России и СССР\\" + ministries()[1][1]},
		classes: []string{classes()[1]}, date: day(2024, 3, 25), number: "ЕД-7-3/211@", rdate: day(2024, 4, 19), rcode: "77912",
		rstatus: "Зарегистрировано в Минюсте", category: []string{"Общие"}, status: statusActive, kinds: []string{kindFederal},
		territory: []string{russia}, access: "ACCESS_IS_FREE", envs: []string{"internet"}, force: 5, size: 8, revision: 176202554,
	}
	analytic := func(topic int, name string, size int) *document {
		return &document{topic: topic, class: classAnalytics, name: name, types: []string{"Энциклопедия"},
			adopted: []string{adoptGarant}, classes: []string{classes()[4]}, date: day(2024, 2, 1), rstatus: "Иные",
			category: []string{"Общие"}, status: statusActive, kinds: []string{kindAnalytic}, territory: []string{russia},
			access: "ACCESS_DENIED", envs: []string{"internet"}, force: 1, size: size}
	}
	review := analytic(77519493, "Обзор основных изменений в Федеральном законе от 5 апреля 2013 г. N 44-ФЗ О контрактной системе в сфере закупок товаров, работ, услуг для обеспечения государственных и муниципальных нужд - 2024 (подготовлено экспертами компании Гарант)", 6)
	review.types = []string{"Обзор"}
	article := analytic(72957500, "Городские округа с внутригородским делением в муниципально-территориальном устройстве", 5)
	article.types, article.classes = []string{"Статья"}, []string{"Местное самоуправление\\Муниципальные образования"}
	taxEncyclopedia := analytic(57589736, "Энциклопедия судебной практики. Федеральные налоги и сборы (Ст. 13 НК)", 30)
	taxEncyclopedia.classes = []string{classes()[1]}
	court := func(topic int, kind, name string, date time.Time) *document {
		d := courtDoc(kind, name, date)
		d.topic = topic
		return d
	}
	return []*document{
		constitution,
		code(TopicCivilCode, "Гражданский кодекс Российской Федерации (часть первая) от 30 ноября 1994 г. N 51-ФЗ (ГК РФ)", "51-ФЗ",
			day(1994, 11, 30), 453, classes()[0], "Гражданского кодекса Российской Федерации", "Гражданского кодекса РФ", "Гражданского кодекса", "ГК РФ"),
		code(TopicTaxCode, "Налоговый кодекс Российской Федерации (часть первая) от 31 июля 1998 г. N 146-ФЗ (НК РФ)", "146-ФЗ",
			day(1998, 7, 31), 142, classes()[1], "Налогового кодекса Российской Федерации", "Налогового кодекса РФ", "Налогового кодекса", "НК РФ"),
		code(TopicAdminOffencesCode, "Кодекс Российской Федерации об административных правонарушениях от 30 декабря 2001 г. N 195-ФЗ (КоАП РФ)", "195-ФЗ",
			day(2001, 12, 30), 300, classes()[6], "Кодекса Российской Федерации об административных правонарушениях", "Кодекса РФ об административных правонарушениях", "КоАП РФ"),
		code(TopicLabourCode, "Трудовой кодекс Российской Федерации от 30 декабря 2001 г. N 197-ФЗ (ТК РФ)", "197-ФЗ",
			day(2001, 12, 30), 424, classes()[3], "Трудового кодекса Российской Федерации", "Трудового кодекса РФ", "Трудового кодекса", "ТК РФ"),
		code(TopicCriminalCode, "Уголовный кодекс Российской Федерации от 13 июня 1996 г. N 63-ФЗ (УК РФ)", "63-ФЗ",
			day(1996, 6, 13), 361, classes()[10], "Уголовного кодекса Российской Федерации", "Уголовного кодекса РФ", "УК РФ"),
		law(TopicContractLaw, "Федеральный закон от 5 апреля 2013 г. N 44-ФЗ \"О контрактной системе в сфере закупок товаров, работ, услуг для обеспечения государственных и муниципальных нужд\" (с изменениями и дополнениями)",
			"44-ФЗ", day(2013, 4, 5), 114, classes()[4]),
		law(TopicTrafficLaw, "Федеральный закон от 29 декабря 2017 г. N 443-ФЗ \"Об организации дорожного движения в Российской Федерации и о внесении изменений в отдельные законодательные акты Российской Федерации\" (с изменениями и дополнениями)",
			"443-ФЗ", day(2017, 12, 29), 33, classes()[5]),
		law(73742836, "Закон РФ о поправке к Конституции РФ от 14 марта 2020 г. N 1-ФКЗ \"О совершенствовании регулирования отдельных вопросов организации и функционирования публичной власти\"",
			"1-ФКЗ", day(2020, 3, 14), 3, "Конституционный строй\\Основы конституционного строя"),
		minWage, abolished, letter, forms, review, article, taxEncyclopedia,
		analytic(57742222, "Энциклопедия решений. Контрактная система: закупки по Федеральному закону N 44-ФЗ о контрактной системе", 12),
		court(341911797, "301", "Решение Ленинского районного суда г. Севастополя от 16 сентября 2024 г. по делу N 2-3135/2024", day(2024, 9, 16)),
		court(TopicArbitrationCase, "302", "Решение Арбитражного суда г. Санкт-Петербурга и Ленинградской области от 12 марта 2025 г. по делу N А56-93948/2024", day(2025, 3, 12)),
	}
}

// famousTitles are real article titles of the codes.
func famousTitles(topic int) map[int]string {
	switch topic {
	case TopicCivilCode:
		return map[int]string{1: "Основные начала гражданского законодательства", 15: "Возмещение убытков",
			309: "Общие положения", 330: "Понятие неустойки", 333: "Уменьшение неустойки",
			395: "Ответственность за неисполнение денежного обязательства"}
	case TopicTaxCode:
		return map[int]string{1: "Законодательство Российской Федерации о налогах и сборах", 13: "Федеральные налоги и сборы",
			78: "Зачет или возврат сумм излишне уплаченных налога, сбора, страховых взносов, пеней, штрафа", 75: "Пеня"}
	case TopicLabourCode:
		return map[int]string{2: "Основные принципы правового регулирования трудовых отношений и иных непосредственно связанных с ними отношений",
			81: "Расторжение трудового договора по инициативе работодателя", 111: "Выходные дни", 114: "Ежегодные оплачиваемые отпуска"}
	case TopicCriminalCode:
		return map[int]string{158: "Кража", 159: "Мошенничество", 160: "Присвоение или растрата"}
	case TopicConstitution:
		return map[int]string{1: "", 35: "", 57: ""}
	}
	return nil
}
