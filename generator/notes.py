"""Anonymised German barrier notes (`huerden.notiz`), composed from sentence templates.

A note is never one template per topic: each topic has several *structures* (orders of
slots such as situation, core, consequence, filler), each slot several templates, and each
template alternatives `{a|b|c}` (synonyms, numbers of weeks and months, optional words), so
that thousands of different notes arise. Composition is vectorised: every slot is a fixed
array of expanded sentences and a note is a sum of randomly indexed entries.

Notes never name persons, carry contact data, street addresses or dates of birth; they do
use characters that differ between Windows-1252 and Latin-1 („…“ – €) so that a wrongly
decoded export shows, and some contain the separator, double quotes and a line break.
"""

from __future__ import annotations

import itertools
import re
import zlib
from dataclasses import dataclass
from functools import cache

import numpy as np

from generator.catalog import NA, codes

# topic index 0 is "generic" (no planted topic)
TOPICS = (
    "generisch",
    "psychotherapie_wartezeit",
    "kinderbetreuung",
    "integrationskurs_ausschluss",
    "rechtskreiswechsel",
    "wohnungsmarkt",
    "auslaenderbehoerde_digital",
    "fahrtkosten_land",
)

# Characteristic lemmas (lower case, German spelling) a topic model should find among the
# top terms of each planted text topic. Every note of a topic carries several of them.
# ("Monat" is in nearly every psychotherapy note but is a stop word of transforms/themes, so it
# is not listed.)
PLANTED_TEXT_TOPICS: dict[str, list[str]] = {
    "psychotherapie_wartezeit": [
        "psychotherapie",
        "therapieplatz",
        "wartezeit",
        "trauma",
        "praxis",
        "warteliste",
    ],
    "kinderbetreuung": [
        "kitaplatz",
        "kinderbetreuung",
        "betreuungsplatz",
        "tagespflege",
        "kind",
        "kita",
    ],
    "integrationskurs_ausschluss": [
        "integrationskurs",
        "duldung",
        "anspruch",
        "sprachkurs",
        "zulassung",
        "aufenthaltsstatus",
    ],
    "rechtskreiswechsel": [
        "jobcenter",
        "sozialamt",
        "zuständigkeit",
        "leistung",
        "rechtskreiswechsel",
        "bescheid",
    ],
    "wohnungsmarkt": [
        "wohnung",
        "vermieter",
        "mietvertrag",
        "schufa",
        "wohnungssuche",
        "besichtigung",
    ],
    "auslaenderbehoerde_digital": [
        "ausländerbehörde",
        "termin",
        "online",
        "terminvergabe",
        "fiktionsbescheinigung",
        "aufenthaltstitel",
    ],
}
# A text topic that stays local: only the rural provider (bus tickets, travel costs).
LOCAL_TEXT_TOPICS: dict[str, list[str]] = {
    "fahrtkosten_land": [
        "fahrtkosten",
        "bus",
        "ticket",
        "berufskolleg",
        "anbindung",
        "busverbindung",
    ],
}

EMPTY_NOTE_SHARE = 0.06
LINE_BREAK_SHARE = 0.05
EXPANSION_CAP = 300

FILLER = [
    "",
    "",
    "",
    "",
    "Rücksprache im Team erfolgt.",
    "Wird in der nächsten Fallbesprechung {eingebracht|aufgegriffen}.",
    "{Stand|Lage} unverändert …",
    "Wiedervorlage in {zwei|drei|vier|sechs} Wochen.",
    "{Vorgang|Thema} für die {AG Versorgung|Steuerungsgruppe|Lenkungsgruppe|Netzwerkrunde} "
    "{notiert|vorgemerkt}.",
    "Ratsuchende:r wurde über den Stand informiert.",
    "{Weitere|Nächste} Schritte {gemeinsam|mit der Familie} besprochen.",
]


@dataclass(frozen=True)
class Family:
    structures: tuple[tuple[str, ...], ...]
    slots: dict[str, list[str]]


FAMILIES: dict[str, Family] = {
    # --- planted topics ---------------------------------------------------------------
    "psychotherapie_wartezeit": Family(
        structures=(
            ("situation", "core", "consequence", "filler"),
            ("core", "situation", "filler"),
            ("situation", "core", "filler"),
            ("core", "consequence", "filler"),
            ("situation", "consequence", "core"),
        ),
        slots={
            "situation": [
                "{Die Klientin|Der Klient|Die ratsuchende Person|Der junge Mann|Die junge "
                "Frau|Die Mutter} {ist|wirkt} {stark|deutlich|sichtbar|zunehmend} belastet{, "
                "Verdacht auf Trauma| nach Fluchterfahrung| (Schlafstörungen, Trauma)|}.",
                "Nach {Fluchterfahrung|Gewalterfahrung|traumatischen Erlebnissen|dem Verlust von "
                "Angehörigen} besteht {dringender|klarer|ärztlich bestätigter} Bedarf an "
                "Psychotherapie.",
                "{Die Hausärztin|Der Hausarzt|Die Beratungsstelle|Der sozialpsychiatrische "
                "Dienst} empfiehlt {ambulante Psychotherapie|eine Traumatherapie|eine "
                "psychotherapeutische Behandlung}{ wegen Traumafolgen| bei Verdacht auf PTBS|}.",
                "Psychotherapie {dringend erforderlich|angezeigt|seit langem Thema}; "
                "{Trauma|Traumafolgen|Depression und Trauma} {stehen im Vordergrund|belasten den "
                "Alltag|erschweren jede Planung}.",
                "Bei {der Tochter|dem Sohn|dem jugendlichen Ratsuchenden} wurde eine "
                "{Traumafolgestörung|Trauma-Symptomatik} festgestellt, Psychotherapie {ist "
                "notwendig|wird empfohlen}.",
            ],
            "core": [
                "Für einen Therapieplatz {liegt|beträgt} die Wartezeit {derzeit|aktuell|nach "
                "Auskunft der Praxis} {bei 5|bei 6|bei 7|bei 8|bei 9|bei 10|bei 12} Monaten.",
                "Die Wartezeit auf einen Therapieplatz beträgt "
                "{aktuell|derzeit|mindestens|voraussichtlich} "
                "{vier|fünf|sechs|sieben|acht|neun|zwölf} Monate.",
                "{Alle|Sämtliche|Die} {angefragten|kontaktierten} Praxen {melden|nennen} "
                "Wartezeiten von {3 bis 6|5 bis 8|6 bis 12|mehr als 9|über 10} Monaten{, teils "
                "ohne Warteliste| – eine Praxis nimmt gar nicht mehr auf|}.",
                "Seit {3|4|5|6|7|8|10} Monaten auf der Warteliste für einen Therapieplatz{, Stand "
                "unverändert|, keine Rückmeldung der Praxis| – Nachfrage erfolglos|}.",
                "Traumatherapie mit Sprachmittlung: kein freier Therapieplatz, Wartezeit "
                "{über|mindestens|rund} {ein halbes Jahr|acht Monate|zehn Monate|ein Jahr}.",
                "Therapieplatz {trotz|nach} {zahlreichen|mehreren|über zehn} Anfragen nicht in "
                "Sicht; Psychotherapie frühestens in {5|6|8|9} Monaten.",
                "Praxis {meldet|nennt} für die Psychotherapie eine Wartezeit von "
                "{etwa|rund|mindestens} {sechs|acht|neun|elf} Monaten{, Erstgespräch früher "
                "möglich|}.",
            ],
            "consequence": [
                "Überbrückung über psychosoziale Beratung {vereinbart|angefragt|läuft}.",
                "{Kostenübernahme|Finanzierung} der Sprachmittlung für die Psychotherapie "
                "{ungeklärt|offen|abgelehnt}, das verlängert die Wartezeit zusätzlich.",
                "Die lange Wartezeit {gefährdet|belastet|erschwert} {den Kursbesuch|die "
                "Ausbildung|den Schulbesuch|den Alltag der Familie}.",
                "Ohne Psychotherapie {ist|bleibt} {eine Stabilisierung|die weitere Planung|der "
                "Ausbildungseinstieg} {schwierig|unrealistisch|kaum vorstellbar}.",
                "Erneute Anfrage bei {der Terminservicestelle|zwei weiteren Praxen|der "
                "Traumaambulanz} in {2|3|4|6} Wochen.",
                "Eintrag auf der Warteliste {einer weiteren Praxis|von drei Praxen|der "
                "Traumaambulanz}{, Rückmeldung frühestens in sechs Monaten|, ohne Zusage|}.",
                'Aussage der {Klientin|Mutter}: "Ich halte das Warten {nicht mehr|kaum noch} aus."',
            ],
            "filler": FILLER,
        },
    ),
    "kinderbetreuung": Family(
        structures=(
            ("situation", "core", "consequence", "filler"),
            ("core", "consequence"),
            ("situation", "consequence", "core"),
            ("core", "situation", "filler"),
        ),
        slots={
            "situation": [
                "{Alleinerziehende Mutter|Die Mutter|Der alleinerziehende Vater|Die Klientin} "
                "{mit zwei Kindern|mit einem Kleinkind|von drei Kindern|mit Kind (2)} "
                "{sucht|benötigt} {dringend |seit langem |}einen Kitaplatz.",
                "Kinderbetreuung ist {nicht gesichert|ungeklärt|das zentrale Problem}, "
                "{solange|weil} kein Kitaplatz {zur Verfügung steht|vorhanden ist|gefunden wird}.",
                "Für {das jüngste Kind|den Sohn (3)|die Tochter (2)|beide Kinder} fehlt ein "
                "Betreuungsplatz{ in Wohnortnähe| in erreichbarer Nähe|}.",
                "{Die Familie|Die Eltern} {hat|haben} {zum Kitajahr|seit der Anmeldung} keinen "
                "Kitaplatz erhalten{, das Kind ist drei Jahre alt|, Kind bleibt zu Hause|}.",
            ],
            "core": [
                "Für einen Betreuungsplatz auf der Warteliste {von|bei} "
                "{vier|fünf|sechs|mehreren} Kitas{, ohne Zusage|, Rückmeldung frühestens zum "
                "neuen Kitajahr|}.",
                "{Kein|Noch kein} Betreuungsplatz in Sicht{, weder Kita noch Tagespflege|, alle "
                "Kitas im Stadtteil voll|}.",
                "{Das Jugendamt|Die Kita-Vermittlung|Der Kita-Navigator} {kann|konnte} "
                "{keinen|noch keinen} Kitaplatz {anbieten|vermitteln|zusagen}{; auch die "
                "Tagespflege ist ausgebucht|, Tagespflege ebenfalls voll|}.",
                "Betreuungsplatz in der Tagespflege {frühestens|voraussichtlich erst} {im "
                "Sommer|zum Kitajahr|im nächsten Jahr} {verfügbar|in Aussicht}.",
                "Rechtsanspruch auf einen Kitaplatz besteht, {praktisch|tatsächlich} gibt es aber "
                "{keinen freien Platz|kein Angebot|nur Absagen}.",
                "{Kita|Die Wunsch-Kita|Die nächste Kita} {nimmt|nimmt erst} {keine Kinder mehr "
                "auf|wieder im Sommer auf}, Tagespflegepersonen im Stadtteil {sind belegt|haben "
                "keinen Betreuungsplatz frei}.",
            ],
            "consequence": [
                "Ohne Kinderbetreuung kann {die Mutter|die Klientin|der Vater} {den "
                "Deutschkurs|die Maßnahme|die Ausbildung|die angebotene Stelle} nicht "
                "{beginnen|antreten|aufnehmen}.",
                "{Kursbeginn|Arbeitsaufnahme|Maßnahmebeginn} muss "
                "{verschoben|abgesagt|zurückgestellt} werden, {weil|da} die Kinderbetreuung fehlt.",
                "Übergangsweise {betreut die Nachbarin|hilft die Familie|springt eine "
                "Ehrenamtliche ein} – keine {dauerhafte|tragfähige} Lösung für die "
                "Kinderbetreuung.",
                "Brückenangebot (Eltern-Kind-Gruppe) {angefragt|vermittelt|läuft}, ersetzt aber "
                "keinen {Kitaplatz|Betreuungsplatz}.",
            ],
            "filler": FILLER,
        },
    ),
    "integrationskurs_ausschluss": Family(
        structures=(
            ("situation", "core", "consequence"),
            ("core", "situation", "filler"),
            ("situation", "core", "filler"),
            ("core", "consequence", "filler"),
        ),
        slots={
            "situation": [
                "{Die Klientin|Der Klient|Die ratsuchende Person|Der junge Mann} hat {eine "
                "Duldung|eine Aufenthaltsgestattung|nur eine Duldung}{ (sicheres Herkunftsland)| "
                "seit über einem Jahr|}.",
                "Aufgrund des Aufenthaltsstatus {(Duldung)|(Gestattung, sicheres Herkunftsland)|} "
                "besteht kein Anspruch auf einen Integrationskurs.",
                "Aufenthaltsstatus: {Duldung|Gestattung}; {Zugang zum|Teilnahme am} "
                "Integrationskurs {nicht möglich|ausgeschlossen}.",
                "Mit Duldung {kein Anspruch|kein gesetzlicher Anspruch} auf einen "
                "Integrationskurs, {obwohl|auch wenn} {der Wunsch|die Motivation} {groß "
                "ist|vorhanden ist}.",
            ],
            "core": [
                "Antrag auf Zulassung zum Integrationskurs {beim BAMF |}{abgelehnt|negativ "
                "beschieden|ohne Erfolg}{, kein Anspruch bei Duldung|}.",
                "Zulassung zum Integrationskurs {nur nach Ermessen|im Ermessen des BAMF} – {nicht "
                "erteilt|abgelehnt|bisher nicht erteilt}.",
                "Kein Anspruch auf Integrationskurs, {freie Plätze|Restplätze} {gibt es "
                "nicht|sind nicht vorhanden|wurden nicht vergeben}.",
                "Ohne Zulassung durch das BAMF {kein Kursplatz|keine Teilnahme} im "
                "Integrationskurs, {ein Anspruch besteht nicht|der Aufenthaltsstatus lässt es "
                "nicht zu}.",
                "{Alternative|Ersatzweise|Als Übergang}: "
                "{ehrenamtlicher|niedrigschwelliger|kommunaler} Sprachkurs{ zweimal pro Woche| an "
                "der VHS| im Stadtteil|}{, Warteliste|, Plätze knapp|}.",
                "Sprachkurs {ohne Zertifikat|ohne Prüfung|auf A1-Niveau} ist die einzige "
                "{Option|Möglichkeit}, der Integrationskurs bleibt {verschlossen|ausgeschlossen}.",
            ],
            "consequence": [
                "Solange sich der Aufenthaltsstatus nicht ändert, {bleibt der Integrationskurs "
                "verschlossen|besteht kein Anspruch auf den Integrationskurs|bleibt nur der "
                "Sprachkurs im Ehrenamt}.",
                "Klärung des Aufenthaltsstatus {läuft|dauert|ist offen}; bis dahin {keine "
                "Zulassung|kein Integrationskurs|nur ein Sprachkurs ohne Zertifikat}.",
                "Ohne {Deutschkenntnisse|Sprachzertifikat|B1-Nachweis} {kaum Chancen auf "
                "Arbeit|keine Ausbildung möglich|keine Beschäftigungserlaubnis in Sicht}.",
                "Motivation {hoch|sehr hoch|ungebrochen}, {aber|doch} ohne Integrationskurs "
                "{fehlt die Struktur|stagniert der Spracherwerb|geht es kaum voran}.",
                "Fall {zeigt|belegt} {erneut|einmal mehr} die Lücke für {Geduldete|Menschen mit "
                "Duldung|Gestattete} beim Sprachkurs.",
                "Deutschlernen {läuft|erfolgt} {über eine App|über Ehrenamtliche|autodidaktisch} "
                "– {kein Ersatz für|nicht vergleichbar mit} einem Integrationskurs.",
            ],
            "filler": FILLER,
        },
    ),
    "rechtskreiswechsel": Family(
        structures=(
            ("situation", "core", "consequence"),
            ("core", "consequence", "filler"),
            ("situation", "core", "filler"),
            ("core", "situation"),
        ),
        slots={
            "situation": [
                "Nach {Anerkennung|Erteilung der Aufenthaltserlaubnis|positivem Bescheid des "
                "BAMF} erfolgt der Rechtskreiswechsel vom Sozialamt zum Jobcenter.",
                "Rechtskreiswechsel {vom AsylbLG ins SGB II|vom Sozialamt ins Jobcenter|in das "
                "SGB II} {seit|vor} {sechs|acht|zehn|einigen} Wochen {beantragt|eingeleitet}.",
                "{Zuständigkeit|Die Zuständigkeit} zwischen Jobcenter und Sozialamt {ist "
                "ungeklärt|bleibt strittig|wird hin- und hergeschoben}.",
                "{Mit dem|Beim} Rechtskreiswechsel {ist|war} die Zuständigkeit "
                "{wochenlang|erneut} unklar.",
            ],
            "core": [
                "{Das Sozialamt|Sozialamt} hat die Leistung eingestellt, {das Jobcenter|der "
                "Antrag beim Jobcenter} {ist noch nicht bewilligt|liegt unbearbeitet|wartet auf "
                "Unterlagen}.",
                "{Keine|Seit drei Wochen keine|Derzeit keine} {Leistung|Leistungen} von {beiden "
                "Stellen|Jobcenter oder Sozialamt}; {der Bescheid|ein Bescheid} {steht aus|fehlt "
                "weiterhin|ist nicht absehbar}.",
                "Jobcenter verweist auf {fehlende Unterlagen|das Sozialamt|die Familienkasse}, "
                "{Sozialamt|das Sozialamt} sieht keine Zuständigkeit mehr.",
                "„Lücke“ von {vier|fünf|sechs|acht} Wochen {beim Übergang|zwischen den "
                "Leistungen|bis zum ersten Bescheid}{; Krankenversicherung ungeklärt| – "
                "Lebensmittelgutscheine nötig|}.",
                "Bescheid des Jobcenters {fehlerhaft|unvollständig|noch nicht erlassen}, Leistung "
                "{nur teilweise|verspätet|gar nicht} ausgezahlt.",
            ],
            "consequence": [
                "Vorschuss beim Jobcenter {beantragt|erwirkt|abgelehnt}.",
                "{Tafel|Notfallhilfe|Kleiderkammer} als Überbrückung, bis die Leistung "
                "{fließt|bewilligt ist}.",
                "Klärung der Zuständigkeit {nur mit|erst nach} "
                "{Fallkonferenz|Beschwerde|Einschaltung der Leitungsebene} {möglich|gelungen|in "
                "Aussicht}.",
                "{Krankenversicherung|Versicherungsschutz} während des Rechtskreiswechsels "
                "{ungeklärt|unterbrochen}.",
            ],
            "filler": FILLER,
        },
    ),
    "wohnungsmarkt": Family(
        structures=(
            ("situation", "core", "consequence"),
            ("core", "situation", "filler"),
            ("situation", "core", "filler"),
            ("core", "consequence"),
        ),
        slots={
            "situation": [
                "{Die Familie|Der Klient|Die Klientin|Die Familie mit vier Kindern} lebt {seit "
                "über einem Jahr|seit zwei Jahren|weiterhin} in {der "
                "Gemeinschaftsunterkunft|einer Notunterkunft|einer zu kleinen Wohnung}.",
                "Wohnungssuche seit {über einem Jahr|zwei Jahren|langer Zeit} {erfolglos|ohne "
                "Ergebnis|ohne eine einzige Besichtigung}.",
                "Wohnung {zu klein|feucht und überbelegt|gekündigt wegen Eigenbedarf}, "
                "{dringend|zeitnah} {eine neue Wohnung|eine Ersatzwohnung} nötig.",
            ],
            "core": [
                "Vermieter {lehnen|lehnten} {ab|sofort ab}, sobald {der Leistungsbezug|die "
                "Herkunft|eine negative Schufa} {bekannt wird|zur Sprache kommt}.",
                "{Negative|Fehlende} Schufa-Auskunft {verhindert|blockiert} jeden Mietvertrag{, "
                "auch bei Bürgschaft|; Bürgschaft wird nicht akzeptiert|}.",
                "Kein Mietvertrag {ohne|wegen fehlender} "
                "{Schufa|Schufa-Auskunft|Einkommensnachweis}{, obwohl die Miete angemessen wäre|}.",
                "Auf {über 30|mehr als 50|rund 40} Bewerbungen {kam|gab es} {keine|kaum eine} "
                "Einladung zur Besichtigung; Vermieter {melden sich nicht|sagen ab}.",
                "Angemessene Wohnung {im Rahmen der KdU|zu den Mietobergrenzen|für sechs "
                "Personen} {nicht zu finden|praktisch nicht verfügbar}, Besichtigung {bisher "
                "keine|nur einmal}.",
            ],
            "consequence": [
                "Wohnungssuche {über Portale|mit Unterstützung von Ehrenamtlichen|täglich} – "
                "{Vermieter antworten nicht|bisher keine Besichtigung|nur Absagen}.",
                "Die Wohnungssuche scheitert {an der Schufa|an den Mietobergrenzen|an fehlenden "
                "Unterlagen für den Mietvertrag}.",
                "Wohnberechtigungsschein {beantragt|liegt vor}, {hilft aber nicht|ändert aber "
                "nichts}, {da|weil} kaum Sozialwohnungen frei sind.",
                "Wohnungslosigkeit {droht|droht konkret|ist nicht ausgeschlossen}{, Räumungsklage "
                "angekündigt|}.",
                "Vermittlung an {die Fachstelle Wohnen|das Wohnungsamt|eine Wohnungsnotfallhilfe} "
                "{erfolgt|angefragt}.",
                'Zitat {eines Vermieters|aus der Absage}: "Wir vermieten nur an Berufstätige."',
            ],
            "filler": FILLER,
        },
    ),
    "auslaenderbehoerde_digital": Family(
        structures=(
            ("situation", "core", "consequence"),
            ("core", "consequence", "filler"),
            ("situation", "core", "filler"),
            ("core", "situation"),
        ),
        slots={
            "situation": [
                "Aufenthaltstitel läuft {in drei Wochen|in Kürze|demnächst|bald} ab, {die "
                "Verlängerung|der Verlängerungsantrag} {ist noch nicht möglich|ist "
                "blockiert|hängt}.",
                "Termine bei der Ausländerbehörde gibt es nur online{, über ein Portal| über die "
                "Terminvergabe der Stadt|}.",
                "Die Ausländerbehörde {ist|bleibt} {telefonisch|per E-Mail|persönlich} {nicht "
                "erreichbar|kaum erreichbar}; {ein Termin|eine Vorsprache} nur {online|nach "
                "Online-Buchung}.",
                "{Verlängerung|Umschreibung} des Aufenthaltstitels {steht an|ist überfällig}, die "
                "Ausländerbehörde vergibt Termine nur online.",
            ],
            "core": [
                "Online-Terminvergabe {seit Wochen|ständig|dauerhaft} ausgebucht{, freie Termine "
                "werden nachts freigeschaltet|, kein freier Termin|}.",
                "{Ohne|Mangels} {Smartphone|Drucker|ausreichende Deutschkenntnisse} {ist|war} die "
                "Online-Terminvergabe {nicht zu bewältigen|nicht nutzbar|eine unüberwindbare "
                "Hürde}.",
                "„Fiktionsbescheinigung“ {nicht ausgestellt|nur mit Termin "
                "erhältlich|abgelaufen}{, Arbeitgeber droht mit Kündigung|, Jobcenter stellt "
                "Zahlungen ein|}.",
                "Termin {erst in|frühestens in} {sechs|acht|zehn|zwölf} Wochen, {bis dahin|in der "
                "Zwischenzeit} {keine Fiktionsbescheinigung|kein gültiges Dokument|keine "
                "Arbeitserlaubnis}.",
            ],
            "consequence": [
                "Gemeinsam online {einen Termin gebucht|den Antrag gestellt|das Formular "
                "ausgefüllt} {im Beratungsgespräch|in der Sprechstunde}{ – zwei Stunden Aufwand|}.",
                "Schriftlicher Antrag {per Post|per Fax} an die Ausländerbehörde, um {die Frist "
                "zu wahren|eine Fiktionsbescheinigung zu erhalten}.",
                "Digitale Hürde {betrifft|trifft} {vor allem ältere Ratsuchende|viele "
                "Familien|fast alle Ratsuchenden}{ ohne Endgerät| mit wenig Deutsch|}.",
                "Terminvergabe {müsste|sollte} {auch telefonisch|auch vor Ort|barrierearm} "
                "möglich sein – Thema für {das Netzwerktreffen|die Lenkungsgruppe|die "
                "Steuerungsgruppe}.",
            ],
            "filler": FILLER,
        },
    ),
    "fahrtkosten_land": Family(
        structures=(
            ("situation", "core", "consequence"),
            ("core", "consequence", "filler"),
            ("situation", "core"),
        ),
        slots={
            "situation": [
                "Der Wohnort ist {schlecht|kaum|nur stündlich} {an den Bus angebunden|mit dem Bus "
                "erreichbar}{, Anbindung ans Berufskolleg fehlt| – letzter Bus um 18 Uhr|}.",
                "{Das Berufskolleg|Die Berufsschule|Der Kurs in der Kreisstadt} liegt {25|35|40} "
                "km entfernt, {Fahrtkosten|die Fahrtkosten} {werden nicht übernommen|sind nicht "
                "gedeckt|übersteigen das Budget}.",
                "Im ländlichen Raum {fehlt|fehlt weiterhin} die Anbindung; ohne Bus kein Weg zum "
                "Berufskolleg.",
            ],
            "core": [
                "Das Ticket kostet {58|63} €, {die Fahrtkosten übernimmt niemand|die Fahrtkosten "
                "sind ungeklärt|Fahrtkosten werden erst nachträglich erstattet}.",
                "Schülerfahrkosten {werden abgelehnt|nur bis Klasse 10 übernommen|nicht "
                "bewilligt}, weil {die Schule als zu nah gilt|das Berufskolleg außerhalb liegt}.",
                "Busverbindung {nur zweimal täglich|am Wochenende gar nicht|morgens zu spät}, der "
                "Bus {verpasst den Unterrichtsbeginn|kommt zu spät}; {die Anbindung fehlt|keine "
                "andere Anbindung}.",
            ],
            "consequence": [
                "Unterricht {wird regelmäßig verpasst|fällt weg|nur unregelmäßig besucht} wegen "
                "{fehlender Anbindung|der Busverbindung|der Fahrtkosten}.",
                "Ohne bessere Anbindung {bleibt|ist} der Weg zum Berufskolleg {kaum zu "
                "schaffen|nicht planbar}{, der Bus fährt selten|}.",
                "{Fahrgemeinschaft|Mitfahrgelegenheit|Fahrrad-Spende} als {Notlösung|Übergang} "
                "organisiert, Ticket bleibt ungeklärt.",
                "Antrag auf Übernahme der Fahrtkosten {beim Kreis|über das Bildungspaket} "
                "{gestellt|läuft|abgelehnt}.",
            ],
            "filler": FILLER,
        },
    ),
    # --- generic families (topic "generisch") -------------------------------------------
    "g_sprachmittlung": Family(
        structures=(("a", "b", "filler"), ("a", "b"), ("b", "a", "filler")),
        slots={
            "a": [
                "Sprachmittlung für {das Arztgespräch|den Elternabend|das Gespräch beim Amt|die "
                "Untersuchung} {fehlt|war nicht verfügbar|wurde kurzfristig abgesagt}.",
                "{Verständigung|Kommunikation} {nur über|lediglich mit Hilfe von} {Angehörige|den "
                "Sohn|eine Übersetzungs-App}, {fachlich|inhaltlich} {unzureichend|problematisch}.",
                "Dolmetschende für {Dari|Tigrinya|Kurmanci|Arabisch|Somali} {kaum|nicht} zu "
                "finden.",
            ],
            "b": [
                "Gespräch {musste verschoben werden|fand ohne Verständigung statt|wurde "
                "abgebrochen}.",
                "Kosten für Sprachmittlung {trägt niemand|sind nicht geklärt}; Gespräch "
                "{verschoben|vertagt}.",
                "Befunde {wurden nicht verstanden|blieben unklar}, Nachbesprechung "
                "{nötig|vereinbart}.",
            ],
            "filler": FILLER,
        },
    ),
    "g_diskriminierung": Family(
        structures=(("a", "b"), ("a", "b", "filler"), ("b", "a", "filler")),
        slots={
            "a": [
                "{Diskriminierungserfahrung|Abwertende Behandlung} {bei der Arbeitssuche|im "
                "Betrieb|beim Praktikum|in der Praxis} geschildert.",
                "{Bewerbungen|Anfragen} {mit ausländisch klingendem Namen|mit Kopftuch auf dem "
                "Foto} {bleiben ohne Antwort|werden abgelehnt}.",
                "{Der Klient|Die Klientin} berichtet von {rassistischen "
                "Bemerkungen|Benachteiligung} {im Betrieb|in der Behandlung|bei Behörden}.",
            ],
            "b": [
                "Hinweis auf {die Antidiskriminierungsberatung|die Beschwerdestelle} gegeben.",
                "{Dokumentation|Gedächtnisprotokoll} {angeregt|gemeinsam erstellt}, weitere "
                "Schritte offen.",
                "{Die Behandlung|Das Praktikum|Die Bewerbung} wurde {abgebrochen|nicht "
                "fortgesetzt}.",
            ],
            "filler": FILLER,
        },
    ),
    "g_behoerde": Family(
        structures=(("a", "b", "filler"), ("a", "b"), ("b", "a")),
        slots={
            "a": [
                "{Die Familienkasse|Die Krankenkasse|Das Standesamt|Die Schule} {reagiert "
                "nicht|antwortet nur schriftlich|ist kaum erreichbar}.",
                "Unterlagen {mehrfach|bereits zweimal} eingereicht, {Bearbeitung|Rückmeldung} "
                "{dauert an|steht aus|zieht sich}.",
                "Zuständige Stelle {unklar|wechselt ständig}, {Anfragen|Schreiben} {laufen ins "
                "Leere|bleiben liegen}.",
            ],
            "b": [
                "Begleitung zur Vorsprache {vereinbart|erfolgt}.",
                "Schriftliche Nachfrage {gestellt|versandt}, Frist {zwei|vier} Wochen.",
                "{Kindergeld|Krankenversicherungsnachweis|Geburtsurkunde des Kindes} fehlt "
                "weiterhin.",
            ],
            "filler": FILLER,
        },
    ),
    "g_angebot": Family(
        structures=(("a", "b", "filler"), ("a", "b"), ("b", "a", "filler")),
        slots={
            "a": [
                "{Passendes|Erreichbares|Geeignetes} Angebot (<X>) {im Umfeld nicht "
                "vorhanden|derzeit nicht verfügbar|ausgebucht}.",
                "<X>: {keine freien Plätze|Anmeldung erst im Herbst möglich|lange Vorlaufzeit}.",
                "Suche nach <X> {bisher erfolglos|läuft weiter|schwierig}.",
            ],
            "b": [
                "{Alternative|Zwischenlösung} {wird gesucht|besprochen|nicht in Sicht}.",
                "{Die Klientin|Der Klient|Die Familie} {bleibt motiviert|ist enttäuscht|zieht "
                "sich zurück}.",
                "Anfrage bei {einem zweiten Träger|der Nachbarkommune} {läuft|gestellt}.",
            ],
            "filler": FILLER,
        },
    ),
    "g_kosten": Family(
        structures=(("a", "b"), ("a", "b", "filler"), ("b", "a", "filler")),
        slots={
            "a": [
                "Offene Forderungen {beim Energieversorger|beim Mobilfunkanbieter|eines "
                "Inkassobüros} belasten {die Familie|den Haushalt}.",
                "{Eigenanteil|Zuzahlung|Kosten} von {40|80|120|150} € {nicht leistbar|übersteigt "
                "das Budget}.",
                "{Gebühren|Kosten} für {Dokumente|Übersetzungen|Beglaubigungen} {nicht "
                "gedeckt|offen}.",
            ],
            "b": [
                "Antrag auf {Kostenübernahme|Härtefallhilfe} {gestellt|in Vorbereitung}.",
                "Ratenzahlung {vereinbart|angefragt}.",
                "Schuldnerberatung {angefragt|empfohlen}.",
            ],
            "filler": FILLER,
        },
    ),
    "g_distanzierung": Family(
        structures=(("a", "b", "filler"), ("a", "b"), ("b", "a")),
        slots={
            "a": [
                "Kontakt zu {früheren Bekannten aus der Szene|der alten Gruppe|einschlägigen "
                "Chats} {deutlich reduziert|abgebrochen|noch vorhanden}.",
                "Distanzierung {schreitet voran|stockt|wird durch die Familie gestützt}; "
                "{Ausbildung|Sport|Arbeit} stabilisiert.",
                "{Zuständigkeit für die Begleitung|Übergabe nach der Haft} zwischen "
                "{Justiz|Bewährungshilfe} und Beratung {nicht abgestimmt|unklar}.",
            ],
            "b": [
                "Angebot für {Angehörige|Eltern} {fehlt vor Ort|wird gesucht}.",
                "Gespräche {vierzehntägig|wöchentlich} fortgesetzt.",
                "{Risikoeinschätzung|Gefährdungseinschätzung} {unverändert|leicht verbessert}.",
            ],
            "filler": FILLER,
        },
    ),
    "g_sonstiges": Family(
        structures=(("a", "b"), ("a", "b", "filler"), ("b", "a", "filler")),
        slots={
            "a": [
                "{Konflikte|Spannungen} in der {Unterkunft|Familie|Wohngruppe}, {Verlegung "
                "angefragt|Klärung läuft}.",
                "{Die Klientin|Der Klient} {hat die Arbeitsstelle verloren|ist erkrankt|zieht in "
                "eine andere Kommune}.",
                "{Ehrenamtliche Patenschaft|Begleitung durch Ehrenamtliche} {vermittelt|beendet}, "
                "{Kontakt stabil|Treffen wöchentlich|Neuvermittlung nötig}.",
                "Unterlagen {unvollständig|fehlen}; Gespräch {verschoben|neu vereinbart}.",
            ],
            "b": [
                "Lage {angespannt|stabil|unübersichtlich}.",
                "Weitere {Klärung|Abstimmung} mit {der Schule|dem Sozialdienst|der Familie} nötig.",
                "Unterstützung durch {Angehörige|das Umfeld} {vorhanden|kaum vorhanden}.",
            ],
            "filler": FILLER,
        },
    ),
}

GENERIC_NOUN = {
    "sprache": "Alphabetisierungskurs",
    "schulden": "Schuldnerberatung",
    "bildung_schule": "Schulplatz",
    "ausbildung_arbeit": "Ausbildungsplatz",
    "soziales_netz": "Freizeitangebot",
    "gesundheit_koerperlich": "Facharztbehandlung",
    "distanzierung": "Angehörigenberatung",
    "sonstiges": "Beratungsangebot",
    "aufenthalt": "Rechtsberatung",
    "lebensunterhalt": "Schuldnerberatung",
    "wohnen": "Wohnangebot",
    "gesundheit_psychisch": "Beratungsangebot",
    "familie_kinderbetreuung": "Familienangebot",
}

_ALT = re.compile(r"\{([^{}]*)\}")


def expand(template: str, cap: int = EXPANSION_CAP) -> list[str]:
    """All spellings of a template with `{a|b|c}` alternatives (a deterministic sample if many)."""
    parts = _ALT.split(template)
    literals = parts[0::2]
    choices = [p.split("|") for p in parts[1::2]]
    sizes = [len(c) for c in choices]
    total = int(np.prod(sizes)) if sizes else 1
    if total <= cap:
        combos = itertools.product(*[range(s) for s in sizes])
    else:
        r = np.random.default_rng(zlib.crc32(template.encode("utf-8")))
        picks = r.choice(total, size=cap, replace=False)
        picks.sort()
        combos = []
        for p in picks:
            combo = []
            for s in reversed(sizes):
                combo.append(int(p % s))
                p //= s
            combos.append(tuple(reversed(combo)))
    out = []
    for combo in combos:
        text = literals[0]
        for i, c in enumerate(combo):
            text += choices[i][c] + literals[i + 1]
        out.append(re.sub(r" {2,}", " ", text).replace(" ,", ",").strip())
    return out


@cache
def compiled(
    family: str,
) -> tuple[tuple[tuple[str, ...], ...], dict[str, tuple[np.ndarray, ...]]]:
    """Per slot: all expanded sentences, the same with a leading blank (empty ones stay empty),
    and the offset and size of each template's block."""
    fam = FAMILIES[family]
    slots = {}
    for name, templates in fam.slots.items():
        blocks = [expand(t) for t in templates]
        sizes = np.array([len(b) for b in blocks])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        plain = np.array([x for b in blocks for x in b], dtype=object)
        spaced = np.array([f" {x}" if x else "" for x in plain], dtype=object)
        slots[name] = (plain, spaced, offsets, sizes)
    return fam.structures, slots


def compose(family: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` notes of one family (object array of str).

    Each slot first picks a template (all equally likely), then one of its spellings, so a
    template with many alternatives is not drawn more often than a short one.
    """
    structures, slots = compiled(family)
    out = np.empty(n, dtype=object)
    which = rng.integers(0, len(structures), n)
    for s, structure in enumerate(structures):
        rows = np.flatnonzero(which == s)
        if len(rows) == 0:
            continue
        acc = None
        for slot in structure:
            plain, spaced, offsets, sizes = slots[slot]
            t = rng.integers(0, len(sizes), len(rows))
            pick = offsets[t] + np.floor(rng.random(len(rows)) * sizes[t]).astype(np.int64)
            acc = plain[pick] if acc is None else acc + spaced[pick]
        out[rows] = acc
    return out


def topic_of(
    code: np.ndarray, domain: np.ndarray, provider: np.ndarray, providers: list
) -> np.ndarray:
    """Topic index (into TOPICS) of barrier rows from their (barrier_code, domain) pair."""
    b = codes("barrier")
    d = codes("domain")

    def c(*names: str) -> np.ndarray:
        return np.isin(code, [b.index(x) for x in names])

    def dm(name: str) -> np.ndarray:
        return domain == d.index(name)

    rural = np.array([p.rural_topic for p in providers])[provider]
    conds = [
        dm("gesundheit_psychisch") & c("wartezeit", "kein_angebot"),
        dm("familie_kinderbetreuung") & c("kein_angebot", "wartezeit"),
        dm("sprache") & c("aufenthaltsrechtlich_ausgeschlossen"),
        dm("lebensunterhalt")
        & c("rechtskreiswechsel", "zustaendigkeit_unklar", "erreichbarkeit_behoerde"),
        dm("wohnen") & c("kein_angebot", "diskriminierung", "wartezeit", "kosten"),
        dm("aufenthalt") & c("digitale_zugangshuerde", "erreichbarkeit_behoerde"),
        dm("bildung_schule") & c("kosten") & rural,
    ]
    return np.select(conds, list(range(1, len(conds) + 1)), 0).astype(np.int8)


def generic_family(code: np.ndarray, domain: np.ndarray) -> np.ndarray:
    """Index into GENERIC_FAMILIES for rows of the generic topic."""
    b = codes("barrier")
    d = codes("domain")
    conds = [
        domain == d.index("distanzierung"),
        code == b.index("sprachbarriere"),
        code == b.index("diskriminierung"),
        np.isin(
            code,
            [
                b.index("zustaendigkeit_unklar"),
                b.index("erreichbarkeit_behoerde"),
                b.index("digitale_zugangshuerde"),
                b.index("rechtskreiswechsel"),
            ],
        ),
        np.isin(
            code,
            [
                b.index("kein_angebot"),
                b.index("wartezeit"),
                b.index("aufenthaltsrechtlich_ausgeschlossen"),
            ],
        ),
        code == b.index("kosten"),
    ]
    return np.select(conds, [0, 1, 2, 3, 4, 5], 6).astype(np.int8)


GENERIC_FAMILIES = (
    "g_distanzierung",
    "g_sprachmittlung",
    "g_diskriminierung",
    "g_behoerde",
    "g_angebot",
    "g_kosten",
    "g_sonstiges",
)


def make_notes(
    rng: np.random.Generator, topic: np.ndarray, code: np.ndarray, domain: np.ndarray
) -> np.ndarray:
    """The note of each barrier row (None for the few rows without a note)."""
    n = len(topic)
    notes = np.empty(n, dtype=object)
    for t, name in enumerate(TOPICS):
        if t == 0:
            continue
        rows = np.flatnonzero(topic == t)
        if len(rows):
            notes[rows] = compose(name, len(rows), rng)
    generic = np.flatnonzero(topic == 0)
    fam = generic_family(code[generic], domain[generic])
    d = codes("domain")
    for f, name in enumerate(GENERIC_FAMILIES):
        rows = generic[fam == f]
        if len(rows) == 0:
            continue
        texts = compose(name, len(rows), rng)
        if name == "g_angebot":
            dom = domain[rows]
            nouns = np.array(
                [GENERIC_NOUN.get(x, "Beratungsangebot") for x in d] + ["Beratungsangebot"],
                dtype=object,
            )
            noun = nouns[np.where(dom == NA, len(d), dom)]
            texts = _replace_x(texts, noun)
        notes[rows] = texts
    # a few notes span two lines (a line break inside a quoted CSV field)
    br = np.flatnonzero(rng.random(n) < LINE_BREAK_SHARE)
    if len(br):
        import pandas as pd

        notes[br] = (
            pd.Series(notes[br], dtype=object).str.replace(". ", ".\n", n=1, regex=False).to_numpy()
        )
    empty = rng.random(n) < EMPTY_NOTE_SHARE
    notes[empty] = None
    return notes


def _replace_x(texts: np.ndarray, nouns: np.ndarray) -> np.ndarray:
    """Replace the <X> placeholder group-wise (one pandas call per distinct noun)."""
    import pandas as pd

    out = texts.copy()
    for noun in np.unique(nouns.astype(str)):
        rows = np.flatnonzero(nouns == noun)
        out[rows] = (
            pd.Series(texts[rows], dtype=object).str.replace("<X>", noun, regex=False).to_numpy()
        )
    return out
