"""The access-request letter (GDPR Art. 15) in the sign languages (pure data).

Placeholders: {controller} {contact} {venue} {device} {feed} {window} {captures}
{pack_hash}. Lines starting with "__" are left for the person to fill in. {controller}
{contact} {venue} {device} {captures} are device-signed text and arrive quoted («…», one
line, bounded: report/quote.py), "quoted" says so once in the letter; {feed} arrives on one
line, bounded, and each template quotes it.
"""

from __future__ import annotations

LETTERS: dict[str, dict[str, str]] = {
    "en": {
        "quoted": "Text in «» is quoted as the camera audit device signed it (venue, controller, contact, device, capture ids); it is not my own words.",
        "subject": "Subject access request under Article 15 GDPR",
        "to": "To: {controller}\nContact: {contact}",
        "body": (
            "I ask for access to the personal data about me that your cameras at {venue} "
            "recorded in the period {window}.\n\n"
            "A camera audit device ({device}, camera \"{feed}\") recorded these "
            "captures of people in that time: {captures}. Its signed evidence pack has SHA-256 "
            "{pack_hash}. The audit device does no face recognition: the capture ids name the "
            "recordings, not me.\n\n"
            "Under Article 15 GDPR please tell me whether you process personal data about me "
            "and give me a copy of it (Art. 15(3)), the purposes, the recipients, how long it is "
            "kept, where it came from, and my rights to rectification, erasure, restriction and "
            "objection and to complain to a supervisory authority. Please answer within one "
            "month (Art. 12(3)). To find me in the recordings: the description below."
        ),
        "fill": "__ How to recognise me (clothing, where I was, when):\n__\n__ Name and address:\n__ Date and signature:",
    },
    "de": {
        "quoted": "Text in «» ist so zitiert, wie das Prüfgerät ihn signiert hat (Ort, Verantwortlicher, Kontakt, Gerät, Kennungen); es sind nicht meine Worte.",
        "subject": "Auskunftsersuchen nach Artikel 15 DSGVO",
        "to": "An: {controller}\nKontakt: {contact}",
        "body": (
            "Ich bitte um Auskunft über die personenbezogenen Daten zu meiner Person, die Ihre "
            "Kameras in {venue} im Zeitraum {window} aufgezeichnet haben.\n\n"
            "Ein Kamera-Prüfgerät ({device}, Kamera \"{feed}\") hat in dieser Zeit "
            "folgende Aufnahmen von Personen festgestellt: {captures}. Sein signiertes "
            "Beweispaket hat den SHA-256-Wert {pack_hash}. Das Prüfgerät nimmt keine "
            "Gesichtserkennung vor: die Kennungen bezeichnen die Aufnahmen, nicht mich.\n\n"
            "Bitte teilen Sie mir nach Artikel 15 DSGVO mit, ob Sie mich betreffende Daten "
            "verarbeiten, und stellen Sie mir eine Kopie zur Verfügung (Art. 15 Abs. 3), mit "
            "Zwecken, Empfängern, Speicherdauer, Herkunft und meinen Rechten auf Berichtigung, "
            "Löschung, Einschränkung, Widerspruch und Beschwerde bei einer Aufsichtsbehörde. "
            "Bitte antworten Sie innerhalb eines Monats (Art. 12 Abs. 3). Wie Sie mich in den "
            "Aufnahmen finden: siehe unten."
        ),
        "fill": "__ Woran Sie mich erkennen (Kleidung, Ort, Zeit):\n__\n__ Name und Anschrift:\n__ Datum und Unterschrift:",
    },
    "fr": {
        "quoted": "Le texte entre «» est cité tel que l'appareil d'audit l'a signé (lieu, responsable, contact, appareil, identifiants) ; ce ne sont pas mes propres mots.",
        "subject": "Demande d'accès au titre de l'article 15 du RGPD",
        "to": "À : {controller}\nContact : {contact}",
        "body": (
            "Je demande l'accès aux données personnelles me concernant que vos caméras de "
            "{venue} ont enregistrées pendant la période {window}.\n\n"
            "Un appareil d'audit des caméras ({device}, caméra « {feed} ») a relevé "
            "ces captations de personnes pendant cette période : {captures}. Son dossier de "
            "preuves signé a pour empreinte SHA-256 {pack_hash}. L'appareil d'audit ne fait "
            "aucune reconnaissance faciale : les identifiants désignent les enregistrements, "
            "pas moi.\n\n"
            "Au titre de l'article 15 du RGPD, merci de m'indiquer si vous traitez des données "
            "me concernant et de m'en remettre une copie (art. 15, par. 3), avec les finalités, "
            "les destinataires, la durée de conservation, leur source et mes droits de "
            "rectification, d'effacement, de limitation, d'opposition et de réclamation auprès "
            "d'une autorité de contrôle. Merci de répondre dans un délai d'un mois (art. 12, "
            "par. 3). Pour me retrouver dans les enregistrements : voir ci-dessous."
        ),
        "fill": "__ Comment me reconnaître (vêtements, lieu, heure) :\n__\n__ Nom et adresse :\n__ Date et signature :",
    },
    "es": {
        "quoted": "El texto entre «» se cita tal como lo firmó el dispositivo de auditoría (lugar, responsable, contacto, dispositivo, identificadores); no son mis palabras.",
        "subject": "Solicitud de acceso conforme al artículo 15 del RGPD",
        "to": "A: {controller}\nContacto: {contact}",
        "body": (
            "Solicito el acceso a los datos personales sobre mí que sus cámaras en {venue} "
            "grabaron en el periodo {window}.\n\n"
            "Un dispositivo de auditoría de cámaras ({device}, cámara \"{feed}\") "
            "registró estas capturas de personas en ese periodo: {captures}. Su paquete de "
            "pruebas firmado tiene el SHA-256 {pack_hash}. El dispositivo no hace "
            "reconocimiento facial: los identificadores nombran las grabaciones, no a mí.\n\n"
            "Conforme al artículo 15 del RGPD, les ruego que me indiquen si tratan datos "
            "personales sobre mí y me faciliten una copia (art. 15.3), con los fines, los "
            "destinatarios, el plazo de conservación, su origen y mis derechos de rectificación, "
            "supresión, limitación, oposición y reclamación ante una autoridad de control. "
            "Respondan en el plazo de un mes (art. 12.3). Cómo encontrarme en las grabaciones: "
            "véase abajo."
        ),
        "fill": "__ Cómo reconocerme (ropa, lugar, hora):\n__\n__ Nombre y dirección:\n__ Fecha y firma:",
    },
    "it": {
        "quoted": "Il testo tra «» è citato così come firmato dal dispositivo di verifica (luogo, titolare, contatto, dispositivo, identificativi); non sono parole mie.",
        "subject": "Richiesta di accesso ai sensi dell'articolo 15 del GDPR",
        "to": "A: {controller}\nContatto: {contact}",
        "body": (
            "Chiedo l'accesso ai dati personali che mi riguardano registrati dalle vostre "
            "telecamere presso {venue} nel periodo {window}.\n\n"
            "Un dispositivo di verifica delle telecamere ({device}, telecamera "
            "\"{feed}\") ha rilevato in quel periodo queste riprese di persone: {captures}. Il "
            "suo pacchetto di prove firmato ha SHA-256 {pack_hash}. Il dispositivo non esegue "
            "riconoscimento facciale: gli identificativi indicano le riprese, non me.\n\n"
            "Ai sensi dell'articolo 15 del GDPR vi chiedo di confermarmi se trattate dati "
            "personali che mi riguardano e di fornirmene copia (art. 15, par. 3), con le "
            "finalità, i destinatari, il periodo di conservazione, l'origine e i miei diritti di "
            "rettifica, cancellazione, limitazione, opposizione e reclamo a un'autorità di "
            "controllo. Vi prego di rispondere entro un mese (art. 12, par. 3). Come trovarmi "
            "nelle riprese: vedi sotto."
        ),
        "fill": "__ Come riconoscermi (abiti, luogo, ora):\n__\n__ Nome e indirizzo:\n__ Data e firma:",
    },
    "nl": {
        "quoted": "Tekst tussen «» is geciteerd zoals het auditapparaat hem ondertekende (locatie, verwerkingsverantwoordelijke, contact, apparaat, kenmerken); het zijn niet mijn woorden.",
        "subject": "Inzageverzoek op grond van artikel 15 AVG",
        "to": "Aan: {controller}\nContact: {contact}",
        "body": (
            "Ik verzoek om inzage in de persoonsgegevens over mij die uw camera's bij {venue} "
            "hebben opgenomen in de periode {window}.\n\n"
            "Een camera-auditapparaat ({device}, camera \"{feed}\") heeft in die "
            "tijd deze opnamen van personen vastgelegd: {captures}. Het ondertekende "
            "bewijspakket heeft SHA-256 {pack_hash}. Het apparaat doet geen "
            "gezichtsherkenning: de kenmerken noemen de opnamen, niet mij.\n\n"
            "Laat mij op grond van artikel 15 AVG weten of u persoonsgegevens over mij verwerkt "
            "en geef mij daarvan een kopie (art. 15 lid 3), met de doeleinden, de ontvangers, de "
            "bewaartermijn, de herkomst en mijn rechten op rectificatie, wissing, beperking, "
            "bezwaar en het indienen van een klacht bij een toezichthoudende autoriteit. Graag "
            "binnen een maand antwoord (art. 12 lid 3). Hoe u mij in de opnamen vindt: zie "
            "hieronder."
        ),
        "fill": "__ Hoe u mij herkent (kleding, plaats, tijd):\n__\n__ Naam en adres:\n__ Datum en handtekening:",
    },
    "pl": {
        "quoted": "Tekst w «» jest cytowany tak, jak podpisało go urządzenie audytowe (miejsce, administrator, kontakt, urządzenie, identyfikatory); to nie są moje słowa.",
        "subject": "Wniosek o dostęp do danych na podstawie art. 15 RODO",
        "to": "Do: {controller}\nKontakt: {contact}",
        "body": (
            "Proszę o dostęp do moich danych osobowych, które Państwa kamery w {venue} "
            "zarejestrowały w okresie {window}.\n\n"
            "Urządzenie do audytu kamer ({device}, kamera \"{feed}\") odnotowało w tym "
            "czasie następujące nagrania osób: {captures}. Jego podpisany pakiet dowodowy ma "
            "skrót SHA-256 {pack_hash}. Urządzenie nie rozpoznaje twarzy: identyfikatory "
            "oznaczają nagrania, a nie mnie.\n\n"
            "Na podstawie art. 15 RODO proszę o potwierdzenie, czy przetwarzają Państwo moje "
            "dane osobowe, i o ich kopię (art. 15 ust. 3), wraz z celami, odbiorcami, okresem "
            "przechowywania, źródłem danych oraz informacją o moich prawach do sprostowania, "
            "usunięcia, ograniczenia, sprzeciwu i skargi do organu nadzorczego. Proszę o "
            "odpowiedź w ciągu miesiąca (art. 12 ust. 3). Jak mnie znaleźć na nagraniach: "
            "poniżej."
        ),
        "fill": "__ Jak mnie rozpoznać (ubiór, miejsce, godzina):\n__\n__ Imię, nazwisko i adres:\n__ Data i podpis:",
    },
    "el": {
        "quoted": "Το κείμενο εντός «» παρατίθεται όπως το υπέγραψε η συσκευή ελέγχου (χώρος, υπεύθυνος επεξεργασίας, επικοινωνία, συσκευή, αναγνωριστικά)· δεν είναι δικά μου λόγια.",
        "subject": "Αίτημα πρόσβασης βάσει του άρθρου 15 ΓΚΠΔ",
        "to": "Προς: {controller}\nΕπικοινωνία: {contact}",
        "body": (
            "Ζητώ πρόσβαση στα προσωπικά δεδομένα που με αφορούν και κατέγραψαν οι κάμερές σας "
            "στο {venue} στο διάστημα {window}.\n\n"
            "Μια συσκευή ελέγχου καμερών ({device}, κάμερα \"{feed}\") κατέγραψε σε "
            "αυτό το διάστημα τις εξής λήψεις προσώπων: {captures}. Το υπογεγραμμένο πακέτο "
            "αποδείξεών της έχει SHA-256 {pack_hash}. Η συσκευή δεν κάνει αναγνώριση προσώπου: "
            "τα αναγνωριστικά ονομάζουν τις λήψεις, όχι εμένα.\n\n"
            "Βάσει του άρθρου 15 ΓΚΠΔ, παρακαλώ ενημερώστε με αν επεξεργάζεστε προσωπικά "
            "δεδομένα που με αφορούν και δώστε μου αντίγραφο (άρθρο 15 παρ. 3), με τους "
            "σκοπούς, τους αποδέκτες, τη διάρκεια αποθήκευσης, την προέλευση και τα δικαιώματά "
            "μου σε διόρθωση, διαγραφή, περιορισμό, εναντίωση και καταγγελία σε εποπτική αρχή. "
            "Παρακαλώ απαντήστε εντός ενός μήνα (άρθρο 12 παρ. 3). Πώς θα με βρείτε στις "
            "λήψεις: βλ. παρακάτω."
        ),
        "fill": "__ Πώς θα με αναγνωρίσετε (ρούχα, σημείο, ώρα):\n__\n__ Ονοματεπώνυμο και διεύθυνση:\n__ Ημερομηνία και υπογραφή:",
    },
    "ru": {
        "quoted": "Текст в «» приведён так, как его подписало устройство аудита (место, оператор, контакт, устройство, идентификаторы); это не мои слова.",
        "subject": "Запрос на доступ к данным согласно статье 15 GDPR",
        "to": "Кому: {controller}\nКонтакт: {contact}",
        "body": (
            "Прошу предоставить доступ к моим персональным данным, которые ваши камеры в "
            "{venue} записали в период {window}.\n\n"
            "Устройство аудита камер ({device}, камера \"{feed}\") зафиксировало за "
            "это время следующие съёмки людей: {captures}. Его подписанный пакет "
            "доказательств имеет SHA-256 {pack_hash}. Устройство не распознаёт лица: "
            "идентификаторы обозначают записи, а не меня.\n\n"
            "Согласно статье 15 GDPR прошу сообщить, обрабатываете ли вы мои персональные "
            "данные, и предоставить их копию (ст. 15(3)), а также цели, получателей, срок "
            "хранения, источник и мои права на исправление, удаление, ограничение, возражение "
            "и жалобу в надзорный орган. Прошу ответить в течение месяца (ст. 12(3)). Как найти "
            "меня на записях: см. ниже."
        ),
        "fill": "__ Как меня узнать (одежда, место, время):\n__\n__ Имя и адрес:\n__ Дата и подпись:",
    },
    "uk": {
        "quoted": "Текст у «» наведено так, як його підписав пристрій аудиту (місце, контролер, контакт, пристрій, ідентифікатори); це не мої слова.",
        "subject": "Запит на доступ до даних відповідно до статті 15 GDPR",
        "to": "Кому: {controller}\nКонтакт: {contact}",
        "body": (
            "Прошу надати доступ до моїх персональних даних, які ваші камери в {venue} "
            "записали в період {window}.\n\n"
            "Пристрій аудиту камер ({device}, камера \"{feed}\") зафіксував за цей час "
            "такі зйомки людей: {captures}. Його підписаний пакет доказів має SHA-256 "
            "{pack_hash}. Пристрій не розпізнає обличчя: ідентифікатори позначають записи, а не "
            "мене.\n\n"
            "Відповідно до статті 15 GDPR прошу повідомити, чи обробляєте ви мої персональні "
            "дані, і надати їх копію (ст. 15(3)), а також цілі, одержувачів, строк зберігання, "
            "джерело та мої права на виправлення, видалення, обмеження, заперечення і скаргу до "
            "наглядового органу. Прошу відповісти протягом місяця (ст. 12(3)). Як знайти мене "
            "на записах: див. нижче."
        ),
        "fill": "__ Як мене впізнати (одяг, місце, час):\n__\n__ Ім'я та адреса:\n__ Дата і підпис:",
    },
    "ja": {
        "quoted": "«»内の文字列は監査装置が署名したとおりの引用です（場所、管理者、連絡先、装置、識別子）。私自身の言葉ではありません。",
        "subject": "GDPR第15条に基づくアクセス請求",
        "to": "宛先: {controller}\n連絡先: {contact}",
        "body": (
            "{window}の間に{venue}の貴社カメラが記録した、私に関する個人データへのアクセスを請求します。\n\n"
            "カメラ監査装置（{device}、カメラ「{feed}」）は、この時間に次の人物の撮影を記録しました: "
            "{captures}。その署名付き証拠パックのSHA-256は {pack_hash} です。監査装置は顔認識を行いません。"
            "識別子は記録を指し、私個人を指すものではありません。\n\n"
            "GDPR第15条に基づき、私に関する個人データを処理しているかどうかをお知らせいただき、その写し"
            "（第15条第3項）とともに、目的、受領者、保存期間、取得元、ならびに訂正・消去・制限・異議および"
            "監督機関への苦情申立ての権利をお示しください。1か月以内にご回答ください（第12条第3項）。"
            "記録の中で私を見つける手がかりは下記のとおりです。"
        ),
        "fill": "__ 私の特徴（服装、場所、時刻）:\n__\n__ 氏名と住所:\n__ 日付と署名:",
    },
    "zh": {
        "quoted": "«»中的文字按审计设备签名的原样引用（地点、控制者、联系方式、设备、编号），并非我本人的话。",
        "subject": "依据GDPR第15条提出的访问请求",
        "to": "致: {controller}\n联系方式: {contact}",
        "body": (
            "我请求访问贵方在{venue}的摄像头于{window}期间记录的与我有关的个人数据。\n\n"
            "一台摄像头审计设备（{device}，摄像头“{feed}”）在此期间记录了以下人员拍摄: "
            "{captures}。其签名证据包的SHA-256为 {pack_hash}。该审计设备不进行人脸识别："
            "这些编号指的是录像，而不是我本人。\n\n"
            "依据GDPR第15条，请告知贵方是否处理与我有关的个人数据，并提供副本（第15条第3款），"
            "以及处理目的、接收方、保存期限、数据来源，以及我要求更正、删除、限制处理、反对处理"
            "和向监管机构投诉的权利。请在一个月内答复（第12条第3款）。在录像中找到我的线索见下文。"
        ),
        "fill": "__ 如何认出我（衣着、位置、时间）:\n__\n__ 姓名和地址:\n__ 日期和签名:",
    },
}
