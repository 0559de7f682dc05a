"""Which States the directory is seeded with, and what Babel's locale data says about them.

The 193 Member States of the United Nations and its two observer States, by ISO 3166-1 alpha-2
code. Their names come from the CLDR territory names that Babel ships, except for the two observer
States: CLDR names the territories ("Palestinian Territories", "Vatican City"), not the States the
United Nations admitted as observers, so their UN names are given here."""

from babel import Locale
from babel.languages import get_official_languages

MEMBER_STATE_CODES = tuple(
    """
    AD AE AF AG AL AM AO AR AT AU AZ BA BB BD BE BF BG BH BI BJ BN BO BR BS BT BW BY BZ CA CD CF CG CH CI CL CM CN
    CO CR CU CV CY CZ DE DJ DK DM DO DZ EC EE EG ER ES ET FI FJ FM FR GA GB GD GE GH GM GN GQ GR GT GW GY HN HR HT
    HU ID IE IL IN IQ IR IS IT JM JO JP KE KG KH KI KM KN KP KR KW KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME
    MG MH MK ML MM MN MR MT MU MV MW MX MY MZ NA NE NG NI NL NO NP NR NZ OM PA PE PG PH PK PL PT PW PY QA RO RS RU
    RW SA SB SC SD SE SG SI SK SL SM SN SO SR SS ST SV SY SZ TD TG TH TJ TL TM TN TO TR TT TV TZ UA UG US UY UZ VC
    VE VN VU WS YE ZA ZM ZW
    """.split()
)

OBSERVER_STATE_CODES = ("PS", "VA")

OBSERVER_STATE_NAMES = {
    "PS": {"en": "State of Palestine", "fr": "État de Palestine", "es": "Estado de Palestina"},
    "VA": {"en": "Holy See", "fr": "Saint-Siège", "es": "Santa Sede"},
}

# Two-letter codes CLDR names that are not countries: groupings, pseudo-locales, the unknown region.
NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})

NAME_LANGUAGES = ("en", "fr", "es")


def is_country_code(code: str) -> bool:
    """Whether `code` is an ISO 3166-1 alpha-2 code of a country or territory Babel knows."""
    return (
        len(code) == 2
        and code.isascii()
        and code.isalpha()
        and code.isupper()
        and code not in NOT_COUNTRIES
        and code in Locale.parse("en").territories
    )


def state_names(code: str) -> dict[str, str]:
    """The State's name in English, French and Spanish."""
    if code in OBSERVER_STATE_NAMES:
        return dict(OBSERVER_STATE_NAMES[code])
    return {language: Locale.parse(language).territories[code] for language in NAME_LANGUAGES}


def usual_language(code: str) -> str:
    """Of English, French and Spanish, the official language most spoken in the country; English
    when none of them is official there."""
    for language in get_official_languages(code, de_facto=True):
        if language in NAME_LANGUAGES:
            return language
    return "en"
