"""A labelled corpus of realistic CSO export columns: personal identifiers and innocent look-alikes.

Written for the purpose (no real person's data): Kenya, Nepal, Bangladesh, India, Viet Nam and
Malawi, in Latin, Devanagari and Bengali script, with column names in English, Swahili, Nepali,
Hindi, Bengali, Vietnamese and Chichewa, and names that say nothing (``q7``). Each column has a
label: a kind of :data:`cgd_bridge.checks.identifiers.KINDS`, or ``innocent``. Innocent columns
are the look-alikes that used to raise false alarms: ISO and survey dates, 10-digit household
codes, structured survey codes, ward numbers, ages, yes/no answers (also under a column named
``mobile``), districts, Likert answers, amounts, enumerator and SDG codes, facility names and
free-text comments without identifiers.

:func:`corpus` builds the tables (seeded, so every run is the same); :func:`evaluate` runs the
detector over them and gives precision and recall per kind and the false-alarm rate, for
``tests/unit/checks/test_identifiers.py`` and ``benchmarks/identifiers.py``.

The name lists here are deliberately wider than the detector's list of common name words: about
half the surnames below are not in it, so shape and cardinality must do the work.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from stdnum import verhoeff

from cgd_bridge.checks.identifiers import KINDS, Detection, detect_columns

TODAY = date(2026, 12, 7)


@dataclass
class Column:
    header: str
    values: list[str | None]
    label: str  # a kind, or "innocent"


@dataclass
class Table:
    country: str
    note: str
    columns: list[Column] = field(default_factory=list)


# -- pools -----------------------------------------------------------------------------------------

KE_GIVEN = [
    "Jane",
    "Mary",
    "Grace",
    "Faith",
    "Mercy",
    "Joseph",
    "John",
    "Peter",
    "David",
    "Brian",
    "Kevin",
    "Esther",
    "Ruth",
    "Lucy",
    "Dennis",
    "Collins",
    "Aisha",
    "Fatuma",
    "Halima",
    "Said",
]
KE_FAMILY = [
    "Otieno",
    "Wanjiku",
    "Kamau",
    "Mwangi",
    "Ochieng",
    "Njoroge",
    "Kiprop",
    "Chebet",
    "Mutua",
    "Wafula",
    "Nyaga",
    "Kilonzo",
    "Muriuki",
    "Koech",
    "Rotich",
    "Langat",
    "Kosgei",
    "Achola",
    "Owino",
    "Macharia",
]
NP_GIVEN = [
    "Ram",
    "Sita",
    "Hari",
    "Gita",
    "Krishna",
    "Laxmi",
    "Bishnu",
    "Sarita",
    "Anita",
    "Sunil",
    "Ramesh",
    "Kamala",
    "Pushpa",
    "Bimala",
    "Dil",
    "Mina",
]
NP_MIDDLE = ["Bahadur", "Kumari", "Prasad", "", "", "Maya"]
NP_FAMILY = [
    "Thapa",
    "Shrestha",
    "Gurung",
    "Tamang",
    "Rai",
    "Magar",
    "Karki",
    "Adhikari",
    "Bhattarai",
    "Ghimire",
    "Dahal",
    "Khanal",
    "Koirala",
    "Subedi",
    "Sapkota",
    "Lama",
]
NP_GIVEN_DEV = [
    "राम",
    "सीता",
    "हरि",
    "गीता",
    "कृष्ण",
    "लक्ष्मी",
    "बिष्णु",
    "सरिता",
    "अनिता",
    "सुनिल",
    "रमेश",
    "कमला",
    "पुष्पा",
    "बिमला",
    "मीना",
    "दिल",
]
NP_MIDDLE_DEV = ["बहादुर", "कुमारी", "प्रसाद", "", "", "माया"]
NP_FAMILY_DEV = [
    "थापा",
    "श्रेष्ठ",
    "गुरुङ",
    "तामाङ",
    "राई",
    "मगर",
    "कार्की",
    "अधिकारी",
    "भट्टराई",
    "घिमिरे",
    "दाहाल",
    "खनाल",
    "कोइराला",
    "सुवेदी",
    "लामा",
]
IN_GIVEN_DEV = [
    "राजेश",
    "सुनीता",
    "अमित",
    "पूजा",
    "प्रिया",
    "रवि",
    "अनिल",
    "सुनील",
    "मनोज",
    "नेहा",
    "अंजलि",
    "विकास",
]
IN_FAMILY_DEV = [
    "शर्मा",
    "वर्मा",
    "सिंह",
    "यादव",
    "गुप्ता",
    "मिश्रा",
    "तिवारी",
    "चौहान",
    "पटेल",
    "जोशी",
    "पांडेय",
    "रावत",
]
IN_GIVEN = [
    "Rajesh",
    "Sunita",
    "Amit",
    "Pooja",
    "Priya",
    "Ravi",
    "Anil",
    "Lakshmi",
    "Venkatesh",
    "Deepa",
    "Suresh",
    "Kavita",
    "Arjun",
    "Meena",
]
IN_FAMILY = [
    "Kumar",
    "Devi",
    "Sharma",
    "Singh",
    "Patel",
    "Verma",
    "Yadav",
    "Reddy",
    "Rao",
    "Nair",
    "Iyer",
    "Pillai",
    "Menon",
    "Chauhan",
    "Joshi",
]
BD_GIVEN_BN = ["আব্দুল", "ফাতেমা", "রহিমা", "করিম", "সালমা", "নাসরিন", "রফিক", "জাহিদ", "শাহানা", "আয়েশা", "মাহমুদ", "তানিয়া"]
BD_FAMILY_BN = [
    "রহমান",
    "হোসেন",
    "ইসলাম",
    "আক্তার",
    "খাতুন",
    "বেগম",
    "উদ্দিন",
    "চৌধুরী",
    "সরকার",
    "আলম",
    "মিয়া",
    "হক",
    "মোল্লা",
    "শেখ",
    "তালুকদার",
]
BD_GIVEN = [
    "Abdul",
    "Fatema",
    "Rahima",
    "Karim",
    "Salma",
    "Nasrin",
    "Rafiq",
    "Jahid",
    "Shahana",
    "Ayesha",
    "Mahmud",
    "Tania",
]
BD_FAMILY = [
    "Rahman",
    "Hossain",
    "Islam",
    "Akter",
    "Khatun",
    "Begum",
    "Uddin",
    "Chowdhury",
    "Sarker",
    "Mollah",
    "Sheikh",
    "Talukder",
    "Bhuiyan",
    "Mondal",
]
VN_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"]
VN_MIDDLE = ["Văn", "Thị", "Minh", "Đức", "Ngọc", "Thanh", "Quốc", "Hữu"]
VN_GIVEN = [
    "An",
    "Bình",
    "Cường",
    "Dung",
    "Hà",
    "Hải",
    "Hương",
    "Lan",
    "Linh",
    "Mai",
    "Nam",
    "Phương",
    "Quang",
    "Sơn",
    "Tâm",
    "Thảo",
    "Trang",
    "Tuấn",
]
MW_GIVEN = [
    "Chisomo",
    "Tiyamike",
    "Madalitso",
    "Thokozani",
    "Kondwani",
    "Mphatso",
    "Limbani",
    "Chikondi",
    "Yamikani",
    "Tamanda",
    "Blessings",
    "Memory",
    "Patience",
    "Innocent",
]
MW_FAMILY = [
    "Banda",
    "Phiri",
    "Mwale",
    "Chirwa",
    "Tembo",
    "Zulu",
    "Nyirenda",
    "Mbewe",
    "Gondwe",
    "Kaunda",
    "Mkandawire",
    "Chavula",
    "Kamanga",
    "Mhone",
    "Jere",
]

KE_COUNTIES = [
    "Nairobi",
    "Mombasa",
    "Kisumu",
    "Nakuru",
    "Kakamega",
    "Homa Bay",
    "Trans Nzoia",
    "Uasin Gishu",
    "Kiambu",
    "Machakos",
    "Turkana",
    "Garissa",
]
NP_DISTRICTS_DEV = ["काठमाडौं", "ललितपुर", "कास्की", "मोरङ", "सुनसरी", "बाँके", "कैलाली", "चितवन"]
BD_UPAZILAS_BN = ["মিরপুর", "সাভার", "গাজীপুর সদর", "টঙ্গী", "কেরানীগঞ্জ", "নারায়ণগঞ্জ সদর"]
VN_PROVINCES = ["Hà Nội", "Hồ Chí Minh", "Đà Nẵng", "Hải Phòng", "Cần Thơ", "Nghệ An", "Thanh Hóa"]
MW_DISTRICTS = ["Lilongwe", "Blantyre", "Zomba", "Mzimba", "Mangochi", "Kasungu", "Machinga"]
IN_DISTRICTS = ["Pune", "Nashik", "Lucknow", "Patna", "Jaipur", "Bhopal", "Ranchi", "Raipur"]

FACILITIES = [
    "Kisumu County Referral Hospital",
    "Ahero Sub-County Hospital",
    "Migosi Health Centre",
    "Kondele Dispensary",
    "Nyalenda Health Centre",
    "Lumumba Health Centre",
    "Kibos Dispensary",
    "Chulaimbo Sub-County Hospital",
    "Rabuor Health Centre",
    "Nyakach Dispensary",
]
COMMENTS = [
    "The nurse was rude and we waited three hours before anyone saw us",
    "Drugs were out of stock so we bought them at the chemist for 200 shillings",
    "Water point broken since March, women walk 2 km to the river",
    "Paid KES 150 at the gate although the service should be free",
    "The ramp at the entrance is too steep for wheelchair users",
    "Staff did not explain the results of the test",
    "No sign language interpreter at the clinic on 12/03/2024",
    "Queue was long but the doctor was kind",
    "Toilets locked, key kept by the watchman",
    "Ward 5 meeting postponed to next month because of rain",
    "Asked for 3 receipts but got none",
    "We reported the broken borehole to the chief twice in 2023",
    "Medicine given for 7 days only, told to come back",
    "The new maternity wing opened in January and is clean",
]


def _rows(rng: random.Random, n: int, make: Callable[[random.Random], str]) -> list[str | None]:
    return [make(rng) for _ in range(n)]


def _with_blanks(rng: random.Random, values: list[str | None], share: float = 0.1) -> list[str | None]:
    return [None if rng.random() < share else v for v in values]


def _name(
    given: Sequence[str], family: Sequence[str], middle: Sequence[str] = ("",)
) -> Callable[[random.Random], str]:
    def make(rng: random.Random) -> str:
        parts = [rng.choice(given), rng.choice(middle), rng.choice(family)]
        return " ".join(p for p in parts if p)

    return make


def _vn_name(rng: random.Random) -> str:
    return f"{rng.choice(VN_FAMILY)} {rng.choice(VN_MIDDLE)} {rng.choice(VN_GIVEN)}"


_DEVANAGARI_DIGITS = str.maketrans("0123456789", "०१२३४५६७८९")


def _digits(rng: random.Random, k: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(k))


def _ke_phone(rng: random.Random) -> str:
    body = f"7{rng.choice('0129')}{_digits(rng, 7)}"
    form = rng.randrange(3)
    return [f"0{body}", f"+254 {body[:3]} {body[3:6]} {body[6:]}", f"0{body[:3]} {body[3:6]} {body[6:]}"][
        form
    ]


def _np_phone(rng: random.Random) -> str:
    body = f"98{rng.choice('0145')}{_digits(rng, 7)}"
    return rng.choice([f"+977 {body}", f"+977-{body}", f"{body[:4]}-{body[4:]}"])


def _bd_phone(rng: random.Random) -> str:
    body = f"1{rng.choice('3789')}{_digits(rng, 8)}"
    return rng.choice([f"0{body}", f"+880 {body}", f"0{body[:4]}-{body[4:]}"])


def _in_phone(rng: random.Random) -> str:
    body = f"{rng.choice('6789')}{_digits(rng, 9)}"
    return rng.choice([f"+91 {body[:5]} {body[5:]}", f"{body[:5]} {body[5:]}", f"+91-{body}"])


def _vn_phone(rng: random.Random) -> str:
    body = f"9{rng.choice('0178')}{_digits(rng, 7)}"
    return rng.choice(
        [f"0{body[:3]} {body[3:6]} {body[6:]}", f"+84 {body[:3]} {body[3:6]} {body[6:]}", f"0{body}"]
    )


def _mw_phone(rng: random.Random) -> str:
    body = f"{rng.choice(['99', '88'])}{_digits(rng, 7)}"
    return rng.choice(
        [f"0{body[:3]} {body[3:6]} {body[6:]}", f"+265 {body[:3]} {body[3:6]} {body[6:]}", f"0{body}"]
    )


def _email(
    given: Sequence[str], family: Sequence[str], domains: Sequence[str]
) -> Callable[[random.Random], str]:
    def make(rng: random.Random) -> str:
        g, f = rng.choice(given).lower(), rng.choice(family).lower()
        return f"{rng.choice([g + '.' + f, g + f[:1], g + str(rng.randrange(10, 99))])}@{rng.choice(domains)}"

    return make


def _aadhaar(rng: random.Random) -> str:
    body = str(rng.randrange(2, 10)) + _digits(rng, 10)
    full = body + verhoeff.calc_check_digit(body)
    return rng.choice([full, f"{full[:4]} {full[4:8]} {full[8:]}"])


def _date(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def _dmy(d: date, sep: str = "/") -> str:
    return f"{d.day:02d}{sep}{d.month:02d}{sep}{d.year}"


def _lat_lon(
    rng: random.Random, box: tuple[float, float, float, float], decimals: int = 6
) -> tuple[str, str]:
    lat = rng.uniform(box[0], box[1])
    lon = rng.uniform(box[2], box[3])
    return f"{lat:.{decimals}f}", f"{lon:.{decimals}f}"


def _comments_with(
    rng: random.Random, n: int, inject: Callable[[random.Random], str], share: float
) -> list[str | None]:
    out: list[str | None] = []
    for _ in range(n):
        base = rng.choice(COMMENTS)
        out.append(f"{base}. {inject(rng)}" if rng.random() < share else base)
    return out


# -- the corpus ------------------------------------------------------------------------------------

BOX = {
    "KE": (-4.5, 4.5, 34.0, 41.0),
    "NP": (26.6, 30.0, 80.3, 88.0),
    "BD": (21.0, 26.0, 88.5, 92.0),
    "IN": (12.0, 30.0, 72.0, 88.0),
    "VN": (9.0, 22.0, 104.0, 108.5),
    "MW": (-16.5, -10.0, 33.0, 35.5),
}


# addresses, one way of writing them per country


def ke_addr(r: random.Random) -> str:
    return r.choice(
        [
            f"Plot No. {r.randrange(1, 999)}, {r.choice(['Kenyatta Avenue', 'Moi Road'])}",
            f"House {r.randrange(1, 300)}, {r.choice(['Nyalenda', 'Manyatta', 'Kondele'])}",
        ]
    )


def np_addr(r: random.Random) -> str:
    return f"घर नं. {r.randrange(1, 999)}, {r.choice(['बानेश्वर', 'कलंकी', 'चाबहिल'])} मार्ग"


def in_addr(r: random.Random) -> str:
    road = r.choice(["MG Road", "Station Road", "Gandhi Marg"])
    return f"H.No {r.randrange(1, 99)}-{r.randrange(1, 9)}-{r.randrange(1, 999)}, {road}"


def bd_addr(r: random.Random) -> str:
    return f"বাড়ি নং {r.randrange(1, 99)}, রোড {r.randrange(1, 20)}, {r.choice(['মিরপুর', 'ধানমন্ডি', 'উত্তরা'])}"


def vn_addr(r: random.Random) -> str:
    street = r.choice(["Lê Lợi", "Trần Phú", "Nguyễn Trãi"])
    return f"Số nhà {r.randrange(1, 300)}, ngõ {r.randrange(1, 99)}, đường {street}"


def mw_addr(r: random.Random) -> str:
    return f"Plot {r.randrange(1, 60)}/{r.randrange(1, 999)}, Area {r.randrange(1, 50)}, Lilongwe"


def corpus(rows: int = 60, seed: int = 12) -> list[Table]:
    """The labelled tables, ``rows`` values per column (at least 8)."""
    rng = random.Random(seed)
    n = max(8, rows)
    tables: list[Table] = []

    def one(country: str, note: str, header: str, values: list[str | None], label: str) -> None:
        tables.append(Table(country, note, [Column(header, values, label)]))

    _people(rng, n, one)
    _places(rng, n, one, tables)
    _documents(rng, n, one)
    for country, note, header, values in _innocent(rng, n):
        one(country, note, header, values, "innocent")
    return tables


def _people(rng: random.Random, n: int, one: Callable[[str, str, str, list[str | None], str], None]) -> None:
    """Names, phones and e-mails."""
    # person names -------------------------------------------------------------------------------
    names = [
        ("KE", "respondent_name", _name(KE_GIVEN, KE_FAMILY)),
        ("KE", "jina", _name(KE_GIVEN, KE_FAMILY)),
        ("KE", "q3", _name(KE_GIVEN, KE_FAMILY)),
        ("NP", "Name", _name(NP_GIVEN, NP_FAMILY, NP_MIDDLE)),
        ("NP", "उत्तरदाताको नाम", _name(NP_GIVEN_DEV, NP_FAMILY_DEV, NP_MIDDLE_DEV)),
        ("NP", "नाम थर", _name(NP_GIVEN_DEV, NP_FAMILY_DEV, NP_MIDDLE_DEV)),
        ("NP", "col_4", _name(NP_GIVEN_DEV, NP_FAMILY_DEV, NP_MIDDLE_DEV)),
        ("IN", "लाभार्थी का नाम", _name(IN_GIVEN_DEV, IN_FAMILY_DEV)),
        ("IN", "beneficiary", _name(IN_GIVEN, IN_FAMILY)),
        ("IN", "head_of_household", _name(IN_GIVEN, IN_FAMILY)),
        ("BD", "উত্তরদাতার নাম", _name(BD_GIVEN_BN, BD_FAMILY_BN)),
        ("BD", "নাম", _name(BD_GIVEN_BN, BD_FAMILY_BN, ["", "", "মোছাঃ"])),
        ("BD", "member", _name(BD_GIVEN, BD_FAMILY, ["", "Md.", "Mst."])),
        ("VN", "Họ và tên", _vn_name),
        ("VN", "nguoi_tra_loi", _vn_name),
        ("MW", "dzina", _name(MW_GIVEN, MW_FAMILY)),
        ("MW", "caregiver", _name(MW_GIVEN, MW_FAMILY)),
    ]
    for country, header, make in names:
        one(country, "people's names", header, _with_blanks(rng, _rows(rng, n, make)), "person_name")
    caps = [v.upper() if v else v for v in _rows(rng, n, _name(KE_GIVEN, KE_FAMILY))]
    one("KE", "names in capitals", "FULL NAME", caps, "person_name")
    staff = [_name(KE_GIVEN, KE_FAMILY)(rng) for _ in range(5)]
    one(
        "KE",
        "five enumerators' names over many rows",
        "enumerator",
        [rng.choice(staff) for _ in range(n)],
        "person_name",
    )
    one(
        "KE",
        "a few names under a name column",
        "jina",
        [rng.choice(staff[:3]) for _ in range(n)],
        "person_name",
    )
    # typed in a hurry: lower case, surname first with a comma, a name and a phone in one cell
    lower = [v.lower() if v else v for v in _rows(rng, n, _name(KE_GIVEN, KE_FAMILY))]
    one("KE", "names in lower case", "respondent", lower, "person_name")
    one(
        "MW",
        "surname, given name",
        "mwini",
        [f"{rng.choice(MW_FAMILY)}, {rng.choice(MW_GIVEN)}" for _ in range(n)],
        "person_name",
    )
    one(
        "KE",
        "a name and a phone in one cell",
        "contact_person",
        [f"{rng.choice(KE_GIVEN)} {_ke_phone(rng)}" for _ in range(n)],
        "phone",
    )

    # phones -------------------------------------------------------------------------------------
    phones = [
        ("KE", "phone", _ke_phone),
        ("KE", "namba ya simu", _ke_phone),
        ("KE", "contact", _ke_phone),
        ("NP", "फोन नम्बर", _np_phone),
        ("NP", "q12", _np_phone),
        ("BD", "মোবাইল নম্বর", _bd_phone),
        ("BD", "contact_no", _bd_phone),
        ("IN", "mobile_no", _in_phone),
        ("IN", "सम्पर्क", _in_phone),
        ("VN", "Số điện thoại", _vn_phone),
        ("VN", "lien_he", _vn_phone),
        ("MW", "foni", _mw_phone),
        ("MW", "nambala", _mw_phone),
    ]
    for country, header, make in phones:
        one(country, "phone numbers", header, _with_blanks(rng, _rows(rng, n, make)), "phone")
    bare = [f"98{rng.choice('0145')}{_digits(rng, 7)}" for _ in range(n)]
    one("NP", "bare mobile numbers under a phone name", "mobile", bare, "phone")
    # a Kobo form in Nepali: "contact number", typed on a Devanagari keyboard (own generator, so
    # the columns after it keep their values)
    own = random.Random(977)
    typed = [f"98{own.choice('0145')}{_digits(own, 7)}".translate(_DEVANAGARI_DIGITS) for _ in range(n)]
    one("NP", "bare mobile numbers in Devanagari digits", "सम्पर्क नम्बर", typed, "phone")

    # e-mails ------------------------------------------------------------------------------------
    emails = [
        ("KE", "email", _email(KE_GIVEN, KE_FAMILY, ["gmail.com", "yahoo.com", "kenyacso.or.ke"])),
        ("NP", "इमेल", _email(NP_GIVEN, NP_FAMILY, ["gmail.com", "hotmail.com", "ntc.net.np"])),
        ("BD", "q21", _email(BD_GIVEN, BD_FAMILY, ["gmail.com", "yahoo.com"])),
        ("IN", "contact_email", _email(IN_GIVEN, IN_FAMILY, ["gmail.com", "rediffmail.com"])),
        (
            "VN",
            "thư điện tử",
            _email(["an", "binh", "lan", "mai"], ["nguyen", "tran", "le"], ["gmail.com", "vnn.vn"]),
        ),
        ("MW", "barua", _email(MW_GIVEN, MW_FAMILY, ["gmail.com", "malawi.net"])),
    ]
    for country, header, make in emails:
        one(country, "e-mail addresses", header, _with_blanks(rng, _rows(rng, n, make)), "email")


def _places(
    rng: random.Random,
    n: int,
    one: Callable[[str, str, str, list[str | None], str], None],
    tables: list[Table],
) -> None:
    """Coordinates, dates of birth."""
    # coordinates --------------------------------------------------------------------------------
    pairs = [
        ("KE", "_gps_latitude", "_gps_longitude"),
        ("NP", "अक्षांश", "देशान्तर"),
        ("BD", "অক্ষাংশ", "দ্রাঘিমাংশ"),
        ("VN", "vĩ độ", "kinh độ"),
        ("MW", "y", "x"),
        ("IN", "point_a", "point_b"),
        ("KE", "loc1", "loc2"),
    ]
    for country, lat_h, lon_h in pairs:
        pts = [_lat_lon(rng, BOX[country]) for _ in range(n)]
        tables.append(
            Table(
                country,
                "latitude and longitude columns",
                [
                    Column(lat_h, [p[0] for p in pts], "coordinates"),
                    Column(lon_h, [p[1] for p in pts], "coordinates"),
                ],
            )
        )
    for country, header in (("KE", "location"), ("NP", "gps_point"), ("MW", "q2")):
        vals = [
            " ".join(_lat_lon(rng, BOX[country])) + f" {rng.randrange(300, 2400)}.0 {rng.randrange(3, 20)}.0"
            for _ in range(n)
        ]
        one(country, "ODK geopoints", header, vals, "coordinates")
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    born = [_date(rng, date(1940, 1, 1), date(2008, 12, 31)) for _ in range(n)]
    one(
        "KE",
        "dates of birth as Excel shows them, unnamed",
        "b7",
        [f"{d.day:02d}-{months[d.month - 1]}-{d.year}" for d in born],
        "date_of_birth",
    )

    # dates of birth ---------------------------------------------------------------------------
    old, young = date(1940, 1, 1), date(2008, 12, 31)
    one(
        "KE", "dd/mm/yyyy", "date_of_birth", [_dmy(_date(rng, old, young)) for _ in range(n)], "date_of_birth"
    )
    one(
        "KE",
        "dd/mm/yyyy, Swahili name",
        "tarehe ya kuzaliwa",
        [_dmy(_date(rng, old, young)) for _ in range(n)],
        "date_of_birth",
    )
    one(
        "NP",
        "Bikram Sambat ISO",
        "जन्म मिति",
        [
            f"{rng.randrange(2000, 2065)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 30):02d}"
            for _ in range(n)
        ],
        "date_of_birth",
    )
    one(
        "BD", "dd-mm-yyyy", "জন্ম তারিখ", [_dmy(_date(rng, old, young), "-") for _ in range(n)], "date_of_birth"
    )
    one(
        "IN",
        "d.m.yyyy",
        "dob",
        [f"{d.day}.{d.month}.{d.year}" for d in (_date(rng, old, young) for _ in range(n))],
        "date_of_birth",
    )
    one("VN", "dd/mm/yyyy", "Ngày sinh", [_dmy(_date(rng, old, young)) for _ in range(n)], "date_of_birth")
    one("MW", "ISO, unnamed", "q5", [_date(rng, old, young).isoformat() for _ in range(n)], "date_of_birth")
    one("IN", "dd/mm/yyyy, unnamed", "b4", [_dmy(_date(rng, old, young)) for _ in range(n)], "date_of_birth")


def _documents(
    rng: random.Random, n: int, one: Callable[[str, str, str, list[str | None], str], None]
) -> None:
    """National IDs, registry numbers, addresses, identifiers inside comments."""
    # national IDs -------------------------------------------------------------------------------
    one("IN", "Aadhaar", "aadhaar_no", _rows(rng, n, _aadhaar), "national_id")
    one("IN", "Aadhaar, Hindi name", "आधार संख्या", _rows(rng, n, _aadhaar), "national_id")
    one("IN", "Aadhaar, unnamed", "q7", _rows(rng, n, _aadhaar), "national_id")
    one(
        "IN",
        "PAN",
        "pan",
        [
            f"{''.join(rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ') for _ in range(3))}P"
            f"{rng.choice('ABCDEFGHJK')}{_digits(rng, 4)}{rng.choice('ABCDEFGHJK')}"
            for _ in range(n)
        ],
        "national_id",
    )
    one(
        "KE",
        "Kenyan ID",
        "id_number",
        [str(rng.randrange(10_000_000, 39_999_999)) for _ in range(n)],
        "national_id",
    )
    one(
        "KE",
        "Kenyan ID, Swahili",
        "kitambulisho",
        [str(rng.randrange(1_000_000, 9_999_999)) for _ in range(n)],
        "national_id",
    )
    one(
        "NP",
        "citizenship",
        "नागरिकता नं",
        [
            f"{rng.randrange(1, 78)}-{rng.randrange(1, 5):02d}-{rng.randrange(60, 80)}-{_digits(rng, 5)}"
            for _ in range(n)
        ],
        "national_id",
    )
    one(
        "NP",
        "citizenship, unnamed",
        "c9",
        [
            f"{rng.randrange(1, 78)}-{rng.randrange(1, 5):02d}-{rng.randrange(60, 80)}-{_digits(rng, 5)}"
            for _ in range(n)
        ],
        "national_id",
    )
    one(
        "BD",
        "NID 17",
        "nid",
        [f"{rng.randrange(1950, 2005)}{_digits(rng, 13)}" for _ in range(n)],
        "national_id",
    )
    one(
        "BD",
        "NID 10, Bengali name",
        "জাতীয় পরিচয়পত্র নম্বর",
        [str(rng.randrange(1_000_000_000, 9_999_999_999)) for _ in range(n)],
        "national_id",
    )
    one(
        "BD",
        "NID 17, unnamed",
        "v3",
        [f"{rng.randrange(1950, 2005)}{_digits(rng, 13)}" for _ in range(n)],
        "national_id",
    )
    cccd = [
        f"0{rng.choice(['01', '31', '48', '79', '92'])}{rng.choice('0123')}{_digits(rng, 8)}"
        for _ in range(n)
    ]
    one("VN", "CCCD", "Số CCCD", cccd, "national_id")
    one(
        "VN",
        "CCCD, unnamed",
        "so_giay_to",
        [f"0{rng.choice(['01', '31', '48', '79'])}{rng.choice('0123')}{_digits(rng, 8)}" for _ in range(n)],
        "national_id",
    )

    def mw_id(r: random.Random) -> str:
        return "".join(
            r.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") if i % 2 == 0 else r.choice("0123456789") for i in range(8)
        )

    one("MW", "Malawi national ID", "national_id", _rows(rng, n, mw_id), "national_id")
    one("MW", "Malawi national ID, unnamed", "chiphaso", _rows(rng, n, mw_id), "national_id")

    # registry numbers ---------------------------------------------------------------------------
    one(
        "KE",
        "NCPWD",
        "ncpwd_no",
        [f"NCPWD/{_digits(rng, 6)}/{rng.randrange(2012, 2025)}" for _ in range(n)],
        "registry_number",
    )
    one(
        "NP",
        "disability card",
        "अपाङ्गता परिचयपत्र नं",
        [f"{rng.choice('कखगघ')}-{rng.randrange(1000, 99999)}" for _ in range(n)],
        "registry_number",
    )
    one(
        "IN",
        "UDID",
        "udid",
        [f"{rng.choice(['MH', 'UP', 'BR', 'RJ'])}{_digits(rng, 16)}" for _ in range(n)],
        "registry_number",
    )
    one(
        "IN",
        "UDID, unnamed",
        "q18",
        [f"{rng.choice(['MH', 'UP', 'BR', 'RJ'])}{_digits(rng, 16)}" for _ in range(n)],
        "registry_number",
    )
    one(
        "BD",
        "disability card",
        "প্রতিবন্ধী কার্ড নম্বর",
        [f"{rng.randrange(2015, 2025)}-{_digits(rng, 6)}" for _ in range(n)],
        "registry_number",
    )
    one(
        "MW",
        "registration",
        "disability_card_no",
        [f"DCN-{_digits(rng, 5)}-{rng.randrange(10, 25)}" for _ in range(n)],
        "registry_number",
    )

    # addresses -------------------------------------------------------------------------------
    for country, header, make in (
        ("KE", "address", ke_addr),
        ("NP", "ठेगाना", np_addr),
        ("IN", "residence_details", in_addr),
        ("BD", "ঠিকানা", bd_addr),
        ("VN", "Địa chỉ", vn_addr),
        ("MW", "q30", mw_addr),
    ):
        one(country, "home addresses", header, _rows(rng, n, make), "address")

    # identifiers inside comments ----------------------------------------------------------------
    one(
        "KE",
        "comments with phone numbers",
        "comments",
        _comments_with(rng, n, lambda r: f"Call me on {_ke_phone(r)}", 0.3),
        "phone",
    )
    one(
        "NP",
        "comments with phone numbers",
        "कैफियत",
        _comments_with(rng, n, lambda r: f"सम्पर्क {_np_phone(r)}", 0.25),
        "phone",
    )
    one(
        "BD",
        "comments with e-mails",
        "মন্তব্য",
        _comments_with(rng, n, lambda r: f"write to {_email(BD_GIVEN, BD_FAMILY, ['gmail.com'])(r)}", 0.25),
        "email",
    )
    one(
        "IN",
        "comments with e-mails",
        "remarks",
        _comments_with(
            rng, n, lambda r: f"Email {_email(IN_GIVEN, IN_FAMILY, ['gmail.com'])(r)} for follow-up", 0.2
        ),
        "email",
    )
    one(
        "VN",
        "comments with phones",
        "ghi_chu",
        _comments_with(rng, n, lambda r: f"Liên hệ {_vn_phone(r)}", 0.3),
        "phone",
    )
    one(
        "MW",
        "comments with phones",
        "ndemanga",
        _comments_with(rng, n, lambda r: f"Ndiimbireni pa {_mw_phone(r)}", 0.3),
        "phone",
    )
    one(
        "KE",
        "comments with GPS",
        "notes",
        _comments_with(rng, n, lambda r: "Borehole at {} {}".format(*_lat_lon(r, BOX["KE"])), 0.3),
        "coordinates",
    )


def _innocent(rng: random.Random, n: int) -> list[tuple[str, str, str, list[str | None]]]:
    """The look-alikes: (country, note, header, values)."""
    # innocent look-alikes --------------------------------------------------------------------
    inn: list[tuple[str, str, str, list[str | None]]] = []

    def add(country: str, note: str, header: str, values: Sequence[str | None]) -> None:
        inn.append((country, note, header, list(values)))

    survey = [_date(rng, date(2024, 2, 1), date(2024, 6, 30)) for _ in range(n)]
    add("KE", "ISO survey dates", "today", [d.isoformat() for d in survey])
    add("NP", "ISO survey dates", "survey_date", [d.isoformat() for d in survey])
    add("BD", "interview dates dd/mm/yyyy", "interview_date", [_dmy(d) for d in survey])
    add("VN", "survey dates dd/mm/yyyy", "ngay_khao_sat", [_dmy(d) for d in survey])
    add("MW", "dates dd-mm-yyyy, unnamed", "d1", [_dmy(d, "-") for d in survey])
    add(
        "IN",
        "submission times",
        "_submission_time",
        [f"{d.isoformat()}T{rng.randrange(8, 18):02d}:{rng.randrange(60):02d}:00" for d in survey],
    )
    add(
        "NP",
        "BS survey dates",
        "मिति",
        [f"2081-{rng.randrange(1, 4):02d}-{rng.randrange(1, 30):02d}" for _ in range(n)],
    )
    add(
        "KE",
        "registration dates, a year",
        "date_registered",
        [_date(rng, date(2023, 1, 1), date(2023, 12, 31)).isoformat() for _ in range(n)],
    )
    for country, header, district, width in (
        ("NP", "hh_code", 27, 10),
        ("NP", "household_id", 65, 10),
        ("IN", "q1", 9, 10),
        ("BD", "hh_no", 30, 10),
        ("KE", "household_code", 47, 10),
    ):
        vdc = rng.randrange(100, 999)
        codes = [f"{district:02d}{vdc}{rng.randrange(1, 10):02d}{i:03d}"[:width] for i in range(1, n + 1)]
        add(country, "10-digit household codes", header, codes)
    add(
        "NP",
        "household codes over districts",
        "hh",
        [
            f"{rng.randrange(60, 78):02d}{rng.randrange(100, 999)}{rng.randrange(1, 10):02d}{i:03d}"
            for i in range(1, n + 1)
        ],
    )
    add(
        "KE",
        "structured survey codes",
        "hh_id",
        [f"HH-{rng.randrange(1, 60):04d}-{rng.randrange(1, 10):02d}" for _ in range(n)],
    )
    add(
        "BD",
        "structured member codes",
        "member_code",
        [f"DHK-{rng.randrange(1, 9)}-{i:04d}" for i in range(n)],
    )
    add("MW", "Kobo _id", "_id", [str(180_000_000 + i * rng.randrange(1, 9)) for i in range(n)])
    add("IN", "respondent serials", "respondent_id", [f"R{i:04d}" for i in range(1, n + 1)])
    add(
        "VN", "sequential 12-digit form numbers", "ma_phieu", [f"0{79}{2024}{i:05d}" for i in range(1, n + 1)]
    )
    add("KE", "ward numbers", "ward", [str(rng.randrange(1, 33)) for _ in range(n)])
    add("NP", "ward numbers, Nepali", "वडा नं", [str(rng.randrange(1, 20)) for _ in range(n)])
    own = random.Random(9771)
    # household numbers of a Nepali form: district, municipality, ward and a serial, 10 digits
    # starting with 9 like a mobile, in Devanagari digits
    households = [
        f"9{own.choice(['41', '42'])}{own.randrange(1, 10):02d}{own.randrange(1, 20):02d}{i:03d}".translate(
            _DEVANAGARI_DIGITS
        )
        for i in range(1, n + 1)
    ]
    add("NP", "household numbers, Devanagari digits", "घरधुरी नम्बर", households)
    add("KE", "ages", "age", [str(rng.randrange(18, 90)) for _ in range(n)])
    add("BD", "ages, Bengali", "বয়স", [str(rng.randrange(18, 90)) for _ in range(n)])
    yes_no = {
        "KE": ("mobile", ["Yes", "No"]),
        "NP": ("मोबाइल छ", ["छ", "छैन"]),
        "BD": ("মোবাইল আছে", ["হ্যাঁ", "না"]),
        "IN": ("phone_owned", ["हाँ", "नहीं"]),
        "VN": ("co_dien_thoai", ["Có", "Không"]),
        "MW": ("foni", ["Eya", "Ayi"]),
    }
    for country, (header, answers) in yes_no.items():
        add(country, "yes/no under a phone name", header, [rng.choice(answers) for _ in range(n)])
    add("KE", "yes/no, Swahili", "simu_janja", [rng.choice(["Ndiyo", "Hapana"]) for _ in range(n)])
    add("KE", "mobile phones owned", "mobile_phones", [str(rng.randrange(0, 4)) for _ in range(n)])
    add("IN", "has e-mail", "email_access", [rng.choice(["yes", "no", "dk"]) for _ in range(n)])
    add(
        "NP",
        "address known: categories",
        "address_type",
        [rng.choice(["Permanent", "Temporary", "Rented"]) for _ in range(n)],
    )
    add("KE", "counties", "county", [rng.choice(KE_COUNTIES) for _ in range(n)])
    add("NP", "districts, Devanagari", "जिल्ला", [rng.choice(NP_DISTRICTS_DEV) for _ in range(n)])
    add("BD", "upazilas, Bengali", "উপজেলা", [rng.choice(BD_UPAZILAS_BN) for _ in range(n)])
    add("VN", "provinces", "tinh", [rng.choice(VN_PROVINCES) for _ in range(n)])
    add("MW", "districts", "district_name", [rng.choice(MW_DISTRICTS) for _ in range(n)])
    add("IN", "districts", "जिला", [rng.choice(IN_DISTRICTS) for _ in range(n)])
    add("KE", "facility names", "facility_name", [rng.choice(FACILITIES) for _ in range(n)])
    add(
        "KE",
        "facility names, all different",
        "facility",
        [
            f"{rng.choice(KE_COUNTIES)} {rng.choice(['Health Centre', 'Dispensary', 'Sub-County Hospital'])}"
            for _ in range(n)
        ],
    )
    likert = {
        "KE": ["Very satisfied", "Satisfied", "Neutral", "Dissatisfied", "Very dissatisfied"],
        "NP": ["धेरै सन्तुष्ट", "सन्तुष्ट", "ठीकै", "असन्तुष्ट"],
        "BD": ["খুব সন্তুষ্ট", "সন্তুষ্ট", "মোটামুটি", "অসন্তুষ্ট"],
        "VN": ["Rất hài lòng", "Hài lòng", "Bình thường", "Không hài lòng"],
        "MW": ["Ndakhutira kwambiri", "Ndakhutira", "Sindinakhutire"],
        "IN": ["बहुत संतुष्ट", "संतुष्ट", "असंतुष्ट"],
    }
    for country, answers in likert.items():
        add(
            country,
            "Likert answers",
            rng.choice(["satisfaction", "q10", "rating"]),
            [rng.choice(answers) for _ in range(n)],
        )
    add("NP", "amounts NPR", "amount_paid", [f"रु. {rng.randrange(50, 5000)}" for _ in range(n)])
    add("KE", "amounts KES", "cost", [f"KES {rng.randrange(1, 50) * 100:,}" for _ in range(n)])
    add("IN", "amounts INR", "wage", [f"{rng.randrange(100, 99999):,}" for _ in range(n)])
    add("KE", "populations", "population", [str(rng.randrange(100_000, 9_999_999)) for _ in range(n)])
    add("BD", "enumerator codes", "enumerator", [f"ENUM{rng.randrange(1, 25):04d}" for _ in range(n)])
    add("MW", "enumerator codes", "enumerator_id", [f"EN-{rng.randrange(1, 12):02d}" for _ in range(n)])
    add(
        "KE",
        "SDG series codes",
        "series",
        [rng.choice(["SH_STA_MORT", "SH_ACS_UNHC", "SI_POV_DAY1"]) for _ in range(n)],
    )
    add(
        "NP",
        "SDG indicator numbers",
        "indicator",
        [rng.choice(["3.8.1", "16.6.2", "1.4.1"]) for _ in range(n)],
    )
    add("KE", "proportions, 4 decimals", "share_a", [f"{rng.random():.4f}" for _ in range(n)])
    add("KE", "proportions, 4 decimals", "share_b", [f"{rng.random():.4f}" for _ in range(n)])
    add("IN", "weights, 6 decimals", "weight", [f"{rng.uniform(0.2, 3.5):.6f}" for _ in range(n)])
    add("KE", "comments without identifiers", "comment", [rng.choice(COMMENTS) for _ in range(n)])
    add(
        "NP",
        "comments without identifiers, Nepali",
        "कैफियत",
        [
            rng.choice(
                ["औषधि पाइएन", "डाक्टर समयमा आउनुभएन", "पानीको धारा बिग्रिएको छ तीन महिना भयो", "सेवा राम्रो थियो"]
            )
            for _ in range(n)
        ],
    )
    add(
        "BD",
        "comments without identifiers, Bengali",
        "মন্তব্য",
        [
            rng.choice(["ওষুধ পাওয়া যায়নি", "ডাক্তার দেরিতে এসেছেন", "সেবা ভালো ছিল", "লাইনে দুই ঘণ্টা দাঁড়াতে হয়েছে"])
            for _ in range(n)
        ],
    )
    add(
        "VN",
        "comments without identifiers, Vietnamese",
        "y_kien",
        [
            rng.choice(
                [
                    "Nhân viên nhiệt tình",
                    "Phải chờ lâu hơn 2 giờ",
                    "Thiếu thuốc ở trạm y tế",
                    "Đường vào trạm khó đi",
                ]
            )
            for _ in range(n)
        ],
    )
    add(
        "KE",
        "services used",
        "services",
        [rng.choice(["Antenatal care", "Immunisation", "Family planning", "HIV testing"]) for _ in range(n)],
    )
    add(
        "MW",
        "villages, repeated",
        "village",
        [rng.choice(["Chigoneka", "Kauma", "Mtsiliza", "Njewa", "Chiseka"]) for _ in range(n)],
    )
    add(
        "KE",
        "county with count",
        "sub_county",
        [rng.choice(["Kisumu East", "Kisumu West", "Nyando", "Muhoroni", "Seme"]) for _ in range(n)],
    )
    add("KE", "years", "year", [str(rng.randrange(2015, 2025)) for _ in range(n)])
    add("IN", "quarters", "period", [f"{rng.randrange(2019, 2025)}-Q{rng.randrange(1, 5)}" for _ in range(n)])
    add("NP", "counts", "respondents", [str(rng.randrange(5, 2000)) for _ in range(n)])
    add(
        "BD",
        "phone ownership categories",
        "phone_type",
        [rng.choice(["Smartphone", "Feature phone", "None"]) for _ in range(n)],
    )
    add("VN", "sex", "gioi_tinh", [rng.choice(["Nam", "Nữ"]) for _ in range(n)])
    add(
        "KE",
        "disability status",
        "disability",
        [rng.choice(["With disability", "Without disability"]) for _ in range(n)],
    )
    add(
        "NP",
        "name of the palika",
        "palika_name",
        [
            rng.choice(
                [
                    "Pokhara Metropolitan City",
                    "Annapurna Rural Municipality",
                    "Machhapuchchhre Rural Municipality",
                ]
            )
            for _ in range(n)
        ],
    )
    add("IN", "PIN codes", "pincode", [str(rng.choice([411001, 411038, 226010, 800001])) for _ in range(n)])
    add(
        "KE",
        "M-Pesa transaction amounts with decimals",
        "mpesa",
        [f"{rng.uniform(10, 5000):.2f}" for _ in range(n)],
    )
    add("MW", "altitudes", "altitude", [str(rng.randrange(450, 1500)) for _ in range(n)])
    add("BD", "household size", "সদস্য সংখ্যা", [str(rng.randrange(1, 12)) for _ in range(n)])
    add("VN", "commune codes", "ma_xa", [f"{rng.choice([26734, 26737, 26740, 27112])}" for _ in range(n)])
    add("IN", "durations", "time_taken_minutes", [str(rng.randrange(5, 180)) for _ in range(n)])
    # one row per village (community scorecards): two-word names, nearly all different
    first = [
        "Nyamasaria",
        "Kanyakwar",
        "Chigoneka",
        "Mtandire",
        "Kibos",
        "Manyatta",
        "Obunga",
        "Nyalunya",
        "Kasule",
        "Mpingu",
        "Chinsapo",
        "Kauma",
        "Area",
        "Likuni",
        "Mgona",
        "Kawale",
    ]
    second = [
        "Kaloleni",
        "Upper",
        "Lower",
        "Kanyadhiang",
        "Dzenza",
        "Mbwani",
        "Kachere",
        "Mwenda",
        "Oyugis",
        "Kamwala",
        "Chitukula",
        "Nsundwe",
        "Bunda",
        "Msambeta",
    ]
    add(
        "MW",
        "villages, one row each",
        "village",
        [f"{rng.choice(first)} {rng.choice(second)}" for _ in range(n)],
    )
    add(
        "KE",
        "facilities' opening dates, decades apart",
        "date_opened",
        [_date(rng, date(1952, 1, 1), date(2020, 12, 31)).isoformat() for _ in range(n)],
    )
    add(
        "KE",
        "schools, repeated",
        "school",
        [rng.choice(["St. Mary's Mumias", "St. Joseph's Rapogi", "Moi Girls", "Maranda"]) for _ in range(n)],
    )
    add(
        "VN",
        "Hanoi and Hai Phong districts (named after people), unnamed column",
        "quan",
        [rng.choice(["Hoàng Mai", "Lê Chân", "Ba Đình", "Đống Đa", "Ngô Quyền"]) for _ in range(n)],
    )
    add(
        "VN",
        "streets named after people",
        "duong",
        [
            rng.choice(["Lê Lợi", "Trần Phú", "Nguyễn Trãi", "Hai Bà Trưng", "Lý Thường Kiệt"])
            for _ in range(n)
        ],
    )
    # from published exports: a place list with names in two languages, SDMX-CSV titles
    add(
        "KE",
        "wards, one row each, English and Swahili names",
        "name_en",
        [
            f"{rng.choice(['Kisumu', 'Manyatta', 'Kondele', 'Migosi', 'Railways', 'Nyalenda'])} "
            f"{rng.choice(['Central', 'North', 'Kaloleni', 'Market', 'Shauri Moyo', 'Bandani'])}"
            for _ in range(n)
        ],
    )
    add(
        "KE",
        "dataflow titles",
        "STRUCTURE_NAME",
        [
            rng.choice(
                ["National Accounts Main Aggregates", "Health Access Scorecard", "Youth Survey Results"]
            )
            for _ in range(n)
        ],
    )
    add("IN", "annual periods as dates, decades", "date", [f"{1990 + i % 35}-12-31" for i in range(n)])
    add(
        "NP",
        "monthly periods as dates",
        "q_period",
        [f"{1995 + (i * 7) // 12 % 30}-{(i * 7) % 12 + 1:02d}-01" for i in range(n)],
    )
    return inn


# -- evaluation ------------------------------------------------------------------------------------


@dataclass
class Scores:
    """Per kind: true positives, false negatives, false positives; innocent columns and false alarms."""

    tp: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    fn: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    fp: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    innocent: int = 0
    false_alarms: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    columns: int = 0
    seconds: float = 0.0

    def recall(self, kind: str) -> float | None:
        n = self.tp[kind] + self.fn[kind]
        return self.tp[kind] / n if n else None

    def precision(self, kind: str) -> float | None:
        n = self.tp[kind] + self.fp[kind]
        return self.tp[kind] / n if n else None

    @property
    def false_alarm_rate(self) -> float:
        return len(self.false_alarms) / self.innocent if self.innocent else 0.0


def evaluate(tables: Sequence[Table]) -> Scores:
    """Run the detector over every table; a blocking detection of the labelled kind is a hit."""
    s = Scores()
    start = time.perf_counter()
    for t in tables:
        found: dict[str, Detection] = detect_columns({c.header: c.values for c in t.columns}, today=TODAY)
        for c in t.columns:
            s.columns += 1
            d = found.get(c.header)
            got = d.kind if d is not None and d.blocking else None
            where = f"{t.country} {c.header!r} ({t.note})"
            if c.label == "innocent":
                s.innocent += 1
                if got is not None:
                    s.false_alarms.append(f"{where}: {got}: {d.explained() if d else ''}")
                    s.fp[got] += 1
            elif got == c.label:
                s.tp[c.label] += 1
            else:
                s.fn[c.label] += 1
                s.missed.append(f"{where}: labelled {c.label}, got {got}: {d.explained() if d else ''}")
                if got is not None:
                    s.fp[got] += 1
    s.seconds = time.perf_counter() - start
    return s
