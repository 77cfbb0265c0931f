"""Personal identifiers in a column, found by its content first and its name second.

Pure functions over a sample of a column's text values (no Arrow, no I/O): :func:`detect`
looks at one column, :func:`detect_columns` at a table's columns together (latitude and
longitude are a pair), :func:`scan_text` inside free text. Each :class:`Detection` says which
kind of identifier, how many of the sampled values matched, one or two *masked* examples
(identifiers are never quoted back in full) and why.

Kinds (:data:`KINDS`): ``person_name`` (by shape, capitalisation and cardinality in Latin,
Devanagari, Bengali and other scripts, helped by a short list of common name words of the
countries the project serves), ``email``, ``phone`` (Google's libphonenumber, through the
``phonenumbers`` package, for Kenya, Nepal, Bangladesh, India, Viet Nam, Malawi and any
number written with its country code), ``coordinates`` (pairs inside text; latitude and
longitude columns by range and precision), ``date_of_birth``, ``national_id`` (Aadhaar with its
Verhoeff check digit and India's PAN and voter ID through ``python-stdnum``; Bangladesh NID,
Nepal citizenship, Viet Nam CCCD and Malawi national ID by shape; Kenya's ID and the short
shapes only where the column's name says ID), ``registry_number`` (disability registry and card
numbers), ``address`` (house and plot numbers, streets) and ``device`` (a device or user name,
by the column's name alone).

What is *not* an identifier, whatever the column's name (:func:`innocent_reason`): yes/no
answers in any of the project's languages, a handful of repeated categories, small numbers.
A date is not a phone number; a structured code (a long prefix shared by most values) is not a
phone number nor an ID.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from cgd_bridge.i18n import ENGLISH, N_, Translator, msg, nmsg, num
from cgd_bridge.ingest.schema import normalise_name
from cgd_bridge.lazy import lazy_module

if TYPE_CHECKING:
    import phonenumbers
    from stdnum.in_ import aadhaar, epic, pan
else:  # imported at the first value that looks like one (0.1-0.2 s, with ssl through stdnum)
    phonenumbers = lazy_module("phonenumbers")
    aadhaar = lazy_module("stdnum.in_.aadhaar")
    epic = lazy_module("stdnum.in_.epic")
    pan = lazy_module("stdnum.in_.pan")

KINDS = (
    "person_name", "email", "phone", "coordinates", "date_of_birth", "national_id",
    "registry_number", "address", "device",
)  # fmt: skip
WHAT = {
    "person_name": N_("people's names"),
    "email": N_("e-mail addresses"),
    "phone": N_("phone numbers"),
    "coordinates": N_("exact GPS coordinates"),
    "date_of_birth": N_("dates of birth"),
    "national_id": N_("national ID numbers"),
    "registry_number": N_("registry or card numbers"),
    "address": N_("home addresses"),
    "device": N_("device or user identifiers"),
}
REGIONS = ("KE", "NP", "BD", "IN", "VN", "MW")
SAMPLE = 1000  # values per column the detector looks at (callers sample; this bounds the work)

# -- column names, in the project's languages ----------------------------------------------------

# Each keyword is matched as whole words of the normalised name (and of its accent-free form).
_HEADER_WORDS: dict[str, tuple[str, ...]] = {
    "person_name": (
        "name", "names", "full_name", "first_name", "given_name", "last_name", "surname",
        "family_name", "middle_name", "fullname", "firstname", "lastname", "jina", "majina",
        "jina_kamili", "dzina", "mayina", "नाम", "नाम_थर", "थर", "পুরো_নাম", "নাম", "tên", "họ_tên",
        "họ_và_tên", "ho_ten", "ho_va_ten", "ten",
    ),
    "phone": (
        "phone", "phone_number", "phone_no", "mobile", "mobile_number", "mobile_no", "tel",
        "telephone", "msisdn", "cell", "cellphone", "cell_phone", "contact_number", "contact_no",
        "simu", "namba_ya_simu", "nambari_ya_simu", "foni", "फोन", "फोन_नम्बर", "मोबाइल", "मोबाईल",
        "मोबाइल_नम्बर", "सम्पर्क_नम्बर", "सम्पर्क_नं", "सम्पर्क_नंबर", "संपर्क_नंबर", "ফোন", "মোবাইল",
        "মোবাইল_নম্বর", "মোবাইল_নং", "যোগাযোগ_নম্বর", "điện_thoại", "số_điện_thoại", "so_dien_thoai",
        "sđt", "sdt", "dien_thoai",
    ),
    "email": (
        "email", "e_mail", "email_address", "mail", "barua_pepe", "इमेल", "ईमेल", "ইমেইল",
        "ই_মেইল", "thư_điện_tử", "thu_dien_tu",
    ),
    "registry_number": (
        "disability_card", "disability_id", "disability_card_no", "disability_card_number",
        "registry_number", "registry_no", "registration_number", "registration_no", "reg_no",
        "card_no", "card_number", "ncpwd", "ncpwd_no", "udid", "अपाङ्गता_परिचयपत्र",
        "परिचयपत्र_नं", "প্রতিবন্ধী_কার্ড", "প্রতিবন্ধী_পরিচয়পত্র", "suborno", "số_thẻ",
    ),
    "national_id": (
        "national_id", "nationalid", "id_number", "id_no", "id_card", "idno", "nid", "nin",
        "passport", "passport_number", "passport_no", "voter_id", "citizenship",
        "citizenship_no", "citizenship_number", "aadhaar", "aadhar", "aadhaar_no", "huduma",
        "huduma_number", "kitambulisho", "nagarikta", "nagarikta_no", "birth_certificate",
        "birth_cert", "नागरिकता", "नागरिकता_नं", "नागरिकता_नम्बर", "आधार", "परिचय_पत्र",
        "परिचयपत्र", "জাতীয়_পরিচয়পত্র", "পরিচয়পত্র", "এনআইডি", "জন্ম_নিবন্ধন", "cccd", "cmnd",
        "căn_cước", "can_cuoc", "số_cccd", "chứng_minh_nhân_dân", "pan", "epic",
    ),
    "address": (
        "address", "home_address", "street", "house_number", "house_no", "plot_number",
        "plot_no", "anwani", "ठेगाना", "पता", "घर_नं", "ঠিকানা", "địa_chỉ", "dia_chi", "số_nhà",
    ),
    "coordinates": (
        "gps", "geopoint", "coordinates", "geolocation", "latitude", "longitude", "अक्षांश",
        "देशान्तर", "অক্ষাংশ", "দ্রাঘিমাংশ", "vĩ_độ", "kinh_độ", "vi_do", "kinh_do", "tọa_độ",
        "toa_do",
    ),
    "date_of_birth": (
        "dob", "date_of_birth", "birth_date", "birthdate", "birthday", "born", "tarehe_ya_kuzaliwa",
        "kuzaliwa", "जन्म_मिति", "जन्म", "जन्मतिथि", "জন্ম_তারিখ", "জন্ম", "জন্মতারিখ", "ngày_sinh",
        "ngay_sinh",
    ),
    "device": (
        "imei", "device_id", "deviceid", "subscriber_id", "subscriberid", "sim_serial",
        "simserial", "username", "user_name",
    ),
}  # fmt: skip
# short names that are identifiers only as the whole name (``long`` in ``how_long`` is not)
_WHOLE_NAMES = {
    "lat": "coordinates", "lon": "coordinates", "lng": "coordinates", "long": "coordinates",
    "x": None, "y": None,
}  # fmt: skip
# words that make a "name" column the name of a place, a service or an organisation
_NOT_PERSON = {
    "district", "county", "sub_county", "subcounty", "village", "facility", "school", "hospital",
    "clinic", "indicator", "ward", "org", "organisation", "organization", "group", "project",
    "province", "municipality", "location", "place", "site", "community", "region", "area",
    "country", "state", "service", "programme", "program", "file", "dataset", "series", "unit",
    "company", "business", "market", "commune", "upazila", "union", "palika", "gaunpalika",
    "जिल्ला", "गाउँ", "गाउँपालिका", "नगरपालिका", "वडा", "जेला", "গ্রাম", "জেলা", "উপজেলা", "xã",
    "huyện", "tỉnh", "thôn", "file_name", "form", "question", "crop", "product", "item",
}  # fmt: skip
# words naming people in a column's name: its values may be names (an enumerator's code is not)
_PEOPLE = {
    "enumerator", "interviewer", "respondent", "supervisor", "caregiver", "beneficiary", "member",
    "head", "mother", "father", "child", "patient", "student", "teacher", "chw", "volunteer", "staff",
    "officer", "participant", "informant", "owner", "person", "mtafiti", "mhojiwa", "उत्तरदाता",
    "गणक", "अन्तर्वार्ताकार", "लाभार्थी", "উত্তরদাতা", "সাক্ষাৎকারগ্রহণকারী", "লাভার্থী", "người",
    "nguoi", "điều", "dieu",
}  # fmt: skip
_NOT_DOB = {
    "survey", "interview", "visit", "submission", "submitted", "start", "end", "today", "collection",
    "report", "registration", "registered", "enumeration", "data", "khảo", "khao", "mahojiano",
    "सर्वेक्षण", "अन्तर्वार्ता", "জরিপ", "সাক্ষাৎকার", "opened", "opening", "established", "founded",
    "built", "constructed", "started", "closed", "joined", "issue", "issued", "expiry", "due", "last",
    "next", "payment", "paid", "death", "died", "marriage", "married",
}  # fmt: skip


def _fold(text: str) -> str:
    """Latin letters without their accents (``địa_chỉ`` -> ``dia_chi``); other scripts as they are."""
    out: list[str] = []
    for c in unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D")):
        if unicodedata.category(c) == "Mn" and out and out[-1].isascii():
            continue
        out.append(c)
    return unicodedata.normalize("NFC", "".join(out))


# words that add nothing to what a column's name says it holds (``respondent_phone_no``)
_FILLER = {
    "no", "nr", "num", "number", "of", "the", "your", "s", "respondent", "respondents", "household",
    "hh", "head", "person", "member", "beneficiary", "participant", "caregiver", "enumerator",
    "contact", "primary", "main", "alt", "alternative", "other", "1", "2", "3", "ya", "wa", "la",
    "नं", "नम्बर", "नंबर", "को", "का", "की", "উত্তরদাতার", "নম্বর", "নং", "এর", "số", "của", "mtu",
    "उत्तरदाताको", "उत्तरदाता", "লাভার্থীর", "लाभार्थी", "लाभार्थीको", "संख्या", "সংখ্যা", "कार्ड", "card",
}  # fmt: skip


@lru_cache(maxsize=4096)
def header_match(header: str) -> tuple[str | None, bool]:
    """The kind of identifier a column's name says it holds, and whether it says so plainly.

    Any script: ``फोन नम्बर`` and ``Số điện thoại`` are phone numbers, ``উত্তরদাতার নাম`` a
    person's name; Kobo group paths count by their last part. A "name" of a place, a facility or
    an indicator is not a person's name. *Plainly* (``True``): the name is the keyword, perhaps
    with words that add nothing (``respondent_phone_no``); not plainly: the keyword is one word
    among others (``name_en``, ``structure_name``), and only the values can tell.
    """
    for part in dict.fromkeys([header.split("/")[-1], header]):
        norm = normalise_name(part)
        if not norm:
            continue
        if norm in _WHOLE_NAMES:
            return _WHOLE_NAMES[norm], True
        if re.fullmatch(r"_?(gps|geo)_?(lat|lon|lng|latitude|longitude|altitude|precision)?\w*", norm):
            return "coordinates", True
        for form in dict.fromkeys([norm, _fold(norm)]):
            tokens = form.split("_")
            padded = f"_{form}_"
            for kind, words in _HEADER_WORDS.items():
                hits = [w for w in words if f"_{w}_" in padded]
                if not hits:
                    continue
                if kind == "person_name" and set(tokens) & _NOT_PERSON:
                    continue
                if kind == "date_of_birth" and set(tokens) & _NOT_DOB:
                    continue
                said = {t for w in hits for t in w.split("_")}
                return kind, set(tokens) <= said | _FILLER
    return None, False


def header_kind(header: str) -> str | None:
    """The kind of identifier a column's name says it holds (``"phone"``), or None (see
    :func:`header_match`)."""
    return header_match(header)[0]


# -- innocent values ---------------------------------------------------------------------------

_YES_NO = {
    "yes", "no", "y", "n", "true", "false", "0", "1", "dk", "don't know", "refused", "na", "n/a",
    "ndiyo", "hapana", "sijui", "inde", "ayi", "eya", "ee", "iyayi", "हो", "होइन", "छ", "छैन", "हाँ",
    "हां", "नहीं", "नही", "থা", "হ্যাঁ", "হাঁ", "না", "জি", "có", "không", "co", "khong", "yes/no",
}  # fmt: skip


def innocent_reason(values: Sequence[str]) -> dict[str, Any] | None:
    """Why these values cannot identify anyone (``"yes/no answers"``), or None.

    Yes/no answers in the project's languages, a handful of repeated categories, or small
    numbers (counts, ages, ratings) identify nobody, whatever the column is called.
    """
    vals = [v.strip() for v in values if v and v.strip()]
    if not vals:
        return msg(N_("no values"))
    distinct = set(vals)
    if {v.casefold() for v in distinct} <= _YES_NO:
        return msg(N_("yes/no answers ({answers})"), answers=", ".join(sorted(distinct)[:4]))
    if all(re.fullmatch(r"[+-]?\d{1,3}([.,]\d+)?", v) for v in distinct) and len(vals) >= 3:
        return msg(N_("small numbers (counts, ages or ratings)"))
    if len(distinct) <= 12 and len(vals) >= 3 * len(distinct) and len(vals) >= 6:
        return msg(
            N_("a handful of categories repeated over many rows ({values})"),
            values=nmsg("{n} different value", "{n} different values", len(distinct)),
        )
    return None


# -- masking -----------------------------------------------------------------------------------


def mask(value: str, kind: str) -> str:
    """An identifier with most of it hidden: ``+254 7** *** *78``, ``j***@g****.com``, ``J*** W******``."""
    value = value.strip()
    if kind == "email" and "@" in value:
        local, _, domain = value.partition("@")
        host, _, tld = domain.rpartition(".")
        return f"{local[:1]}***@{host[:1]}***.{tld}"
    if kind in ("person_name", "address") or not any(c.isdigit() for c in value):
        return " ".join(w[:1] + "*" * (len(w) - 1) for w in value.split())
    digits = [i for i, c in enumerate(value) if c.isdigit()]
    keep = set(digits[:3] + digits[-2:]) if len(digits) > 6 else set(digits[:1] + digits[-1:])
    return "".join(c if (not c.isalnum() or i in keep) else "*" for i, c in enumerate(value))


# -- detections --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    """One column's verdict.

    Attributes:
        kind: one of :data:`KINDS`.
        matched: sampled values that look like this kind (values with one inside, for text).
        total: sampled non-empty values.
        examples: one or two matches, masked.
        why: the evidence in plain words, a composed message (:func:`cgd_bridge.i18n.msg`), e.g.
            ``"31 of 40 values are Kenyan mobile numbers"`` (:meth:`explained`).
        by_name: the column's name says so too (or alone, when ``matched`` is 0).
        blocking: an error (identifiers found, or named so with values that could be); False
            when only the name says so and the values cannot identify anyone (``why`` says why).
        in_text: the identifiers are inside longer free text.
    """

    kind: str
    matched: int
    total: int
    examples: tuple[str, ...] = ()
    why: dict[str, Any] = field(default_factory=dict)
    by_name: bool = False
    blocking: bool = True
    in_text: bool = False

    @property
    def what(self) -> str:
        """The kind in words, e.g. ``phone numbers`` (a message id)."""
        return WHAT[self.kind]

    def explained(self, t: Translator = ENGLISH) -> str:
        """:attr:`why` in the language of ``t``."""
        return str(t.value(self.why)) if self.why else ""


@dataclass
class _Hits:
    kind: str
    matched: int = 0
    examples: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    def add(self, count: int, example: str) -> None:
        self.matched += count
        if len(self.examples) < 2 and mask(example, self.kind) not in self.examples:
            self.examples.append(mask(example, self.kind))


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
_PHONE_CANDIDATE = re.compile(r"(?<![\w.+/-])(?:\+|00)?\d[\d ().-]{6,16}\d(?![\w./-]|-\d)")
_DATE_SHAPES = (
    re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"),  # yyyy-mm-dd
    re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})"),  # dd/mm/yyyy, mm/dd/yyyy, d.m.yyyy
)
_COORD_PAIR = re.compile(r"(?<![\d.])(-?\d{1,2}\.\d{4,})\s*[,; ]\s*(-?\d{1,3}\.\d{4,})(?![\d.])")
_DIGITS_NATIVE = str.maketrans("०१२३४५६७८९০১২৩৪৫৬৭৮৯", "01234567890123456789")


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value.translate(_DIGITS_NATIVE))


def _is_date(value: str) -> bool:
    return any(p.fullmatch(value.strip()) for p in _DATE_SHAPES)


# the regions a number written nationally may belong to, by its digits (with the trunk 0)
_TRUNK_REGIONS = {9: ("NP", "MW"), 10: ("KE", "VN", "MW", "NP"), 11: ("BD", "IN", "VN")}
_BARE_REGIONS = ("IN", "NP")  # 10-digit mobiles written without the trunk 0
_COUNTRY_CODES = ("254", "977", "880", "91", "84", "265")


def _mobile_types() -> tuple[Any, ...]:
    return (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _national_regions(text: str, digits: str, named: bool) -> tuple[str, ...]:
    """The regions a number written without its country code may belong to."""
    if digits.startswith("0"):
        return _TRUNK_REGIONS.get(len(digits), ())
    if len(digits) == 10 and digits[0] in "6789" and (named or re.search(r"\D", text)):
        return _BARE_REGIONS
    return ()


@lru_cache(maxsize=65536)
def phone_region(candidate: str, named: bool = False) -> str | None:
    """The region a phone number is valid for (``"KE"``, or ``"+"`` when written with its
    country code), or None.

    Dates, amounts and bare digit runs are not phones: a number without ``+`` or the trunk ``0``
    counts only as a 10-digit Indian or Nepali mobile written with a separator (``98765 43210``)
    or in a column named for phones (``named``), or as a number starting with the country code
    of one of the project's countries (``254712345678``).
    """
    text = candidate.strip().translate(_DIGITS_NATIVE)
    if _is_date(text) or re.fullmatch(r"\d{1,4}([.,]\d+)?", text):
        return None
    digits = _digits(text)
    if not 7 <= len(digits) <= 15:
        return None
    if text.startswith("00"):
        text, digits = "+" + digits[2:], digits[2:]
    elif not text.startswith(("+", "0")) and len(digits) >= 11 and digits.startswith(_COUNTRY_CODES):
        text = "+" + digits
    if text.startswith("+"):
        try:
            num = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException:
            return None
        return "+" if phonenumbers.is_valid_number(num) else None
    trunk = digits.startswith("0")
    for region in _national_regions(text, digits, named):
        try:
            num = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_valid_number_for_region(num, region):
            continue
        if phonenumbers.number_type(num) in _mobile_types() or (trunk and len(digits) >= 9):
            return region
    return None


def _structured(digit_values: Sequence[str]) -> bool:
    """Most values share a long prefix (district + ward + serial): a survey code, not a phone or ID."""
    if len(digit_values) < 4:
        return False
    top = Counter(v[:6] for v in digit_values if len(v) >= 8).most_common(1)
    return bool(top) and top[0][1] >= 0.5 * len(digit_values)


def _share(matched: int, total: int, *, at_least: float) -> bool:
    return matched >= 1 and (matched >= at_least * total) and (matched >= 2 or total <= 2)


# names: words common in the names of people in Kenya, Nepal, Bangladesh, India, Viet Nam and
# Malawi (surnames, honorifics and name particles); a hit is evidence, never required
_NAME_WORDS = {
    # Kenya
    "otieno", "ochieng", "odhiambo", "onyango", "omondi", "wanjiku", "wanjiru", "kamau", "mwangi",
    "njoroge", "kariuki", "mutua", "kiprop", "kiprono", "chebet", "cherono", "akinyi", "atieno",
    "wambui", "njeri", "muthoni", "wafula", "wekesa", "barasa", "achieng", "auma", "adhiambo",
    "kipchoge", "mohamed", "hassan", "abdi", "ali", "juma", "wairimu", "nyambura", "kimani",
    # Nepal / India
    "shrestha", "sharma", "thapa", "gurung", "tamang", "magar", "rai", "limbu", "adhikari",
    "karki", "khadka", "bhandari", "poudel", "paudel", "pandey", "yadav", "singh", "kumar",
    "kumari", "devi", "bahadur", "prasad", "maharjan", "basnet", "bk", "nepali", "chaudhary",
    "tharu", "patel", "reddy", "rao", "das", "gupta", "verma", "mishra", "khan", "begum",
    "श्रेष्ठ", "शर्मा", "थापा", "गुरुङ", "तामाङ", "मगर", "राई", "लिम्बु", "अधिकारी", "कार्की",
    "खड्का", "भण्डारी", "पौडेल", "पाण्डे", "यादव", "सिंह", "कुमार", "कुमारी", "देवी", "बहादुर",
    "प्रसाद", "महर्जन", "बस्नेत", "चौधरी", "थारु", "पटेल", "गुप्ता", "मिश्रा", "खान", "बेगम",
    # Bangladesh
    "rahman", "hossain", "hussain", "islam", "uddin", "ahmed", "akter", "akhter", "khatun",
    "chowdhury", "sarker", "mia", "miah", "alam", "haque", "karim", "sultana", "parvin", "roy",
    "রহমান", "হোসেন", "ইসলাম", "উদ্দিন", "আহমেদ", "আক্তার", "খাতুন", "চৌধুরী", "সরকার", "মিয়া",
    "আলম", "হক", "করিম", "সুলতানা", "পারভীন", "বেগম", "রায়", "দাস", "মোছাঃ", "মোঃ", "মো",
    # Viet Nam
    "nguyễn", "trần", "lê", "phạm", "hoàng", "huỳnh", "phan", "vũ", "võ", "đặng", "bùi", "đỗ",
    "hồ", "ngô", "dương", "lý", "văn", "thị", "nguyen", "tran", "le", "pham", "hoang", "thi", "van",
    # Malawi
    "banda", "phiri", "mwale", "chirwa", "tembo", "zulu", "kumwenda", "nyirenda", "mbewe",
    "gondwe", "msiska", "mhango", "chisale", "kachingwe", "mvula", "ngwira", "chikwanha",
    # honorifics
    "mr", "mrs", "ms", "dr", "shri", "smt", "श्री", "श्रीमती", "সুশ্রী", "জনাব", "mama", "mzee",
}  # fmt: skip
_NOT_NAME_WORDS = {
    "hospital", "clinic", "school", "centre", "center", "county", "district", "ward", "village",
    "road", "street", "market", "church", "mosque", "group", "association", "committee", "health",
    "dispensary", "office", "station", "project", "services", "service", "primary", "secondary",
    "university", "college", "cooperative", "sacco", "ngo", "ltd", "limited", "bank", "east",
    "west", "north", "south", "central", "rural", "urban", "municipality", "town", "city",
    "satisfied", "dissatisfied", "agree", "disagree", "very", "strongly", "neutral", "good",
    "poor", "fair", "excellent", "yes", "no", "not", "don't", "know", "sub", "post", "care",
    "water", "hand", "the", "of", "and", "for", "in", "at", "to", "with", "by", "community",
    "youth", "women", "women's", "farmers", "self", "help", "bazar", "bazaar", "hat", "union",
    "upazila", "nagar", "tole", "gaun", "palika", "xã", "huyện", "tỉnh", "phường", "quận",
    "thôn", "ấp", "bản", "trạm", "y", "tế", "trường", "tiểu", "học", "bệnh", "viện", "kenya",
    "nepal", "bangladesh", "india", "vietnam", "malawi", "province", "region", "referral",
    "government", "private", "public", "mission", "level", "sub-county", "day", "month",
    "वडा", "गाउँपालिका", "नगरपालिका", "जिल्ला", "अस्पताल", "स्वास्थ्य", "चौकी", "विद्यालय",
    "धेरै", "सन्तुष्ट", "असन्तुष्ट", "ठीक", "राम्रो", "নগর", "উপজেলা", "জেলা", "হাসপাতাল",
    "স্বাস্থ্য", "কেন্দ্র", "বিদ্যালয়", "খুব", "সন্তুষ্ট", "অসন্তুষ্ট", "ভালো", "মোটামুটি",
    "rất", "hài", "lòng", "không", "bình", "thường",
}  # fmt: skip
_SCRIPTS = (("Devanagari", 0x0900, 0x097F), ("Bengali", 0x0980, 0x09FF))


def _script(word: str) -> str:
    letters = [c for c in word if unicodedata.category(c)[0] == "L"]
    if not letters:
        return "none"
    if all(c.isascii() or "LATIN" in unicodedata.name(c, "") for c in letters):
        return "Latin"
    for name, lo, hi in _SCRIPTS:
        if all(lo <= ord(c) <= hi for c in letters):
            return name
    return "other"


def _latin_name_word(core: str) -> str | None:
    """``"strict"`` for a capitalised word (``Wanjiku``, ``KAMAU``, ``Md``), ``"lower"`` for an
    all-lower-case one (``wanjiku``), None for anything else."""
    if not core or not all(c.isalpha() or c in "'’-" for c in core):
        return None
    if core[0].isupper() and (core[1:].islower() or core.isupper() or len(core) <= 2):
        return "strict"
    return "lower" if core.islower() else None


def _name_shape(value: str) -> tuple[str | None, bool]:
    """How the value is shaped like a person's name (``"strict"``: capitalised words or a
    non-Latin script; ``"lower"``: lower-case Latin words; None: not a name), and whether it
    holds a common name word."""
    words = value.replace(".", ". ").split()
    if not 2 <= len(words) <= 5 or len(value) > 60:
        return None, False
    folded = [w.strip(".,'’").casefold() for w in words]
    if any(f in _NOT_NAME_WORDS for f in folded) or any(any(c.isdigit() for c in w) for w in words):
        return None, False
    scripts = {_script(w) for w in words if w.strip(".")}
    if len(scripts) != 1:
        return None, False
    script = scripts.pop()
    known = any(f in _NAME_WORDS for f in folded)
    if script == "Latin":
        shapes = {_latin_name_word(w.strip(".,'’")) for w in words}
        if None in shapes:
            return None, False
        return ("lower" if "lower" in shapes else "strict"), known
    if script == "none" or not all(unicodedata.category(c)[0] in "LM" or c in ".:" for w in words for c in w):
        return None, False
    return "strict", known


def _names(
    vals: Sequence[str], counts: Counter[str], named: bool, place: bool = False, person: bool = False
) -> _Hits | None:
    """People's names: most values two to five name-shaped words. Under a column named for
    names (``named``) or for people (``person``: enumerator, respondent ...), that is enough;
    with common name words among them, few repeats suffice; by shape alone (nearly all
    different, and the column not named for a place) only in scripts other than Latin.
    Lower-case names count only with common name words."""
    hits = _Hits("person_name")
    listed = strict = latin = 0
    for v, c in counts.items():
        shape, known = _name_shape(v)
        if shape:
            hits.add(c, v)
            listed += c if known else 0
            strict += c if shape == "strict" else 0
            latin += c if _script(v.split()[0]) == "Latin" else 0
    n = len(vals)
    distinct = len(counts)
    if not _share(hits.matched, n, at_least=0.6):
        return None
    # names are nearly unique in a few rows, and many in many rows; places and answers repeat.
    # A few names over many rows (the enumerators) are names all the same when the column's name
    # or common name words say so.
    if named:
        hits.detail = msg(N_("are shaped like people's names"))
        return hits
    if listed >= 0.2 * n and distinct >= min(0.5 * n, 50) and n >= 3:
        hits.detail = msg(N_("are people's names (two to five words, common name words, few repeats)"))
        return hits
    if person and distinct >= 2:
        hits.detail = msg(N_("are shaped like people's names, in a column named for people"))
        return hits
    # by shape alone, only in scripts other than Latin: capitalised Latin words nearly all
    # different are as often places ("Banteay Meanchey", "Mongkol Borei") or titles
    if not place and distinct >= min(0.8 * n, 200) and n >= 10 and strict >= 0.8 * n and latin < 0.5 * n:
        hits.detail = msg(
            N_("are shaped like people's names (two to five words of one script, nearly all different)")
        )
        return hits
    return None


_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        ("jan january", "feb february", "mar march", "apr april", "may", "jun june", "jul july",
         "aug august", "sep sept september", "oct october", "nov november", "dec december")
    )
    for m in names.split()
}  # fmt: skip
_DATE_WORDS = (
    re.compile(r"(\d{1,2})[-/ .]+([A-Za-z]{3,9})[-/ .,]+(\d{4})"),  # 15-Mar-1985, 15 March 1985
    re.compile(r"([A-Za-z]{3,9})[ .]+(\d{1,2}),?\s+(\d{4})"),  # March 15, 1985
)


def _parse_date(value: str) -> date | None:
    text = value.strip().translate(_DIGITS_NATIVE)
    m = _DATE_SHAPES[0].fullmatch(text)
    try:
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
        m = _DATE_SHAPES[1].fullmatch(text)
        if m:
            a, b, y = int(m[1]), int(m[2]), int(m[3])
            return date(y, b, a) if b <= 12 else date(y, a, b)
        m = _DATE_WORDS[0].fullmatch(text)
        if m and m[2].casefold() in _MONTHS:
            return date(int(m[3]), _MONTHS[m[2].casefold()], int(m[1]))
        m = _DATE_WORDS[1].fullmatch(text)
        if m and m[1].casefold() in _MONTHS:
            return date(int(m[3]), _MONTHS[m[1].casefold()], int(m[2]))
    except ValueError:
        return None
    return None


def _dates_of_birth(
    counts: Counter[str], n: int, named: bool, today: date, *, other_date: bool = False
) -> _Hits | None:
    hits = _Hits("date_of_birth")
    years: list[int] = []
    days: Counter[tuple[int, int]] = Counter()
    for v, c in counts.items():
        d = _parse_date(v)
        # 1900..2100 covers Bikram Sambat years (2081 BS is 2024 AD)
        if d is not None and 1900 <= d.year <= 2100:
            hits.add(c, v)
            years.extend([d.year] * min(c, 5))
            days[(d.month, d.day)] += c
    if not _share(hits.matched, n, at_least=0.6):
        return None
    if named:  # also when most are 1 January, as unknown birthdays are often written
        hits.detail = msg(N_("are dates, in a column named for dates of birth"))
        return hits
    if other_date:
        return None  # named for the date of an interview, a visit, a registration ...
    if days.most_common(1)[0][1] >= 0.8 * hits.matched or all(day in (1, 28, 29, 30, 31) for _, day in days):
        return None  # periods (2001-12-31, 2002-12-31 ...; month starts or ends), not birthdays
    span = max(years) - min(years)
    # survey and visit dates cover months; birth dates cover decades, and are mostly in the past
    past = sum(y <= today.year - 5 for y in years) / len(years)
    if span >= 15 and len(counts) >= 0.5 * n and past >= 0.6 and n >= 5:
        hits.detail = msg(
            N_("are dates spanning {years} years, nearly all different: dates of birth"), years=span
        )
        return hits
    return None


_PAN = re.compile(r"[A-Z]{5}\d{4}[A-Z]")
_EPIC = re.compile(r"[A-Z]{3}\d{7}")
_EARLY = 100  # distinct values tried before a detector gives up on a column that shows none
_CCCD = re.compile(r"0(0[1-9]|[1-8]\d|9[0-6])[0-3]\d{8}")  # province, sex/century, year, serial
_BD_NID17 = re.compile(r"(19[2-9]\d|20[0-2]\d)\d{13}")  # birth year + 13 digits
_NP_CITIZENSHIP = re.compile(r"\d{1,2}[-/]\d{1,2}[-/]\d{2,4}[-/]\d{3,6}")
_MW_ID = re.compile(r"[A-Z0-9]{8}")
_UDID = re.compile(r"[A-Z]{2}\d{16}")  # India's Unique Disability ID


def _interleaved(value: str) -> bool:
    """Letters and digits mixed through the value (``M6Z4T2H8``), unlike ``ENUM0012``."""
    changes = sum(a.isdigit() != b.isdigit() for a, b in itertools.pairwise(value))
    return changes >= 4


# digit runs that are IDs only in a column named for IDs
_NAMED_DIGITS = {
    7: N_("Kenyan national ID numbers (7-8 digits)"),
    8: N_("Kenyan national ID numbers (7-8 digits)"),
    10: N_("Bangladeshi national ID numbers"),
    13: N_("Bangladeshi national ID numbers"),
    17: N_("Bangladeshi national ID numbers"),
}


def _id_label(value: str, c: str, named: bool, structured: bool) -> str | None:
    """Which national ID ``value`` (``c``: without spaces and dashes, upper-case) looks like."""
    if c.isdigit() and len(c) == 12 and aadhaar.is_valid(c):
        return N_("Aadhaar numbers (12 digits with a valid Verhoeff check digit)")
    if _PAN.fullmatch(c) and pan.is_valid(c):
        return N_("Indian PAN numbers")
    if _EPIC.fullmatch(c) and epic.is_valid(c):
        return N_("Indian voter ID (EPIC) numbers")
    if _NP_CITIZENSHIP.fullmatch(value.strip().translate(_DIGITS_NATIVE)):
        return N_("Nepali citizenship certificate numbers")
    if _MW_ID.fullmatch(c) and _interleaved(c):
        return N_("Malawian national ID numbers")
    if structured:
        return None
    if _BD_NID17.fullmatch(c):
        return N_("Bangladeshi national ID numbers (17 digits from the birth year)")
    if _CCCD.fullmatch(c):
        return N_("Vietnamese citizen ID (CCCD) numbers")
    if not named:
        return None
    if c.isdigit() and len(c) in _NAMED_DIGITS:
        return _NAMED_DIGITS[len(c)]
    if re.fullmatch(r"[A-Z]{0,3}\d{6,12}[A-Z]?", c):
        return N_("passport or ID numbers")
    return None


def _national_ids(counts: Counter[str], n: int, named: bool) -> _Hits | None:
    compact = {v: re.sub(r"[\s-]", "", v.translate(_DIGITS_NATIVE)).upper() for v in counts}
    structured = _structured([c for c in compact.values() if c.isdigit()])
    found: dict[str, _Hits] = {}
    for tried, (v, c) in enumerate(compact.items()):
        if tried >= _EARLY and not found:
            return None  # the first values hold no ID: neither does the column
        label = _id_label(v, c, named, structured)
        if label is not None:
            found.setdefault(label, _Hits("national_id", detail=msg(N_("are {what}"), what=msg(label)))).add(
                counts[v], v
            )
    best = max(found.values(), key=lambda h: h.matched, default=None)
    if best is None:
        return None
    total = sum(h.matched for h in found.values())
    if _share(total, n, at_least=0.5) and len(counts) >= 0.7 * n:
        best.matched = total
        return best
    return None


def _registry(counts: Counter[str], n: int, named: bool) -> _Hits | None:
    hits = _Hits("registry_number")
    for v in counts:
        c = v.strip().upper()
        if _UDID.fullmatch(re.sub(r"[\s-]", "", c)):
            hits.add(counts[v], v)
            hits.detail = msg(N_("are Indian UDID disability card numbers"))
        elif named and sum(ch.isdigit() for ch in c) >= 3 and len(c) <= 30 and len(c.split()) <= 3:
            hits.add(counts[v], v)
            hits.detail = msg(N_("are card or registry numbers, nearly all different"))
    if _share(hits.matched, n, at_least=0.5) and len(counts) >= 0.7 * n:
        return hits
    return None


_ADDRESS = re.compile(
    r"(?i)(\b(plot|house|hse|flat|apt|apartment|door|h/?no|box)\.?\s*(no\.?|number|#)?\s*[:.]?\s*\d+"
    r"|\b\d+[a-z]?\s*,?\s+[\w' ]{2,30}\b(street|st|road|rd|lane|ln|avenue|ave|marg|path|sadak|gali|"
    r"mtaa|barabara|close|crescent|drive)\b"
    r"|\b(street|road|lane|avenue|marg|sadak|gali|mtaa|barabara)\s*(no\.?)?\s*\d+"
    r"|(số\s*nhà|nhà\s*số|ngõ|ngách|hẻm|kiệt)\s*\d+"
    r"|\d+\s*(đường|phố)\s+\w+"
    r"|(घर\s*(नं|नम्बर|न\.)|मकान\s*(नं|नंबर)|मार्ग|गल्ली|गली)\s*\.?\s*[\d०-९]+"
    r"|[\d०-९]+\s*[\w\u0900-\u097F ]{0,20}(मार्ग|सडक|गल्ली|गली|टोल)"
    r"|(বাড়ি|বাসা|হোল্ডিং|রোড|সড়ক|লেন)\s*(নং|নম্বর|#)?\s*[:.]?\s*[\d০-৯]+)"
)


def _email_hits(text: str) -> list[str]:
    return _EMAIL.findall(text)


def _phone_hits(text: str, named: bool = False) -> list[str]:
    out = []
    for m in _PHONE_CANDIDATE.finditer(text):
        cand = m.group(0).strip(" .-()")
        if phone_region(cand, named):
            out.append(cand)
    return out


def _coordinate_hits(text: str) -> list[str]:
    out = []
    for m in _COORD_PAIR.finditer(text):
        lat, lon = float(m[1]), float(m[2])
        if -90 <= lat <= 90 and -180 <= lon <= 180 and (abs(lat) > 0.5 or abs(lon) > 0.5):
            out.append(m.group(0))
    return out


def scan_text(values: Sequence[str | None]) -> list[Detection]:
    """Identifiers inside free text (comments, notes, "other, specify"): e-mail addresses, phone
    numbers, coordinates, addresses and people's names, one :class:`Detection` per kind found,
    each counting the values with at least one inside."""
    vals = [v for v in values if v and v.strip()][:SAMPLE]
    counts = Counter(vals)  # answers repeat: look at each once
    finders = {
        "email": _email_hits,
        "phone": _phone_hits,
        "coordinates": _coordinate_hits,
        "address": lambda t: [m.group(0) for m in _ADDRESS.finditer(t)],
        "person_name": _names_in_text,
    }
    out = []
    for kind, find in finders.items():
        hits = _Hits(kind)
        for v, c in counts.items():
            found = find(v)
            if found:
                hits.add(c, found[0])
        if hits.matched:
            out.append(
                Detection(
                    kind,
                    hits.matched,
                    len(vals),
                    tuple(hits.examples),
                    msg(
                        N_("{matched} of {values} have {what} inside the text"),
                        matched=num(hits.matched),
                        values=nmsg("{n} value", "{n} values", len(vals)),
                        what=msg(WHAT[kind]),
                    ),
                    in_text=True,
                )
            )
    return out


_CAP_RUN = re.compile(r"\b([A-Z][a-zà-ỹ'’]+(?:\s+[A-Z][a-zà-ỹ'’]+){1,3})")
_WORD = re.compile(r"[\w\u0900-\u097F\u0980-\u09FF]+")


def _names_in_text(text: str) -> list[str]:
    """Names inside a sentence: runs of capitalised words, or words of a non-Latin script, with
    a common name word among them (``Asha Otieno said ...``, ``... राम बहादुर थापा ले ...``)."""
    out = []
    for m in _CAP_RUN.finditer(text):
        words = [w.casefold() for w in m.group(1).split()]
        if any(w in _NAME_WORDS for w in words) and not any(w in _NOT_NAME_WORDS for w in words):
            out.append(m.group(1))
    words = _WORD.findall(text)
    for i, w in enumerate(words):
        # দাস (Das) is also the word for a servant: too common in text to mark a name
        if _script(w) in ("Devanagari", "Bengali") and w in _NAME_WORDS and w != "দাস":
            start = max(0, i - 2)
            run = [x for x in words[start : i + 1] if _script(x) == _script(w)]
            if len(run) >= 2:
                out.append(" ".join(run))
    return out


# -- one column, and a table's columns -----------------------------------------------------------


def _clean(values: Sequence[str | None]) -> list[str]:
    return [v.strip() for v in values[: SAMPLE * 4] if v is not None and v.strip()][:SAMPLE]


def detect(header: str, values: Sequence[str | None], *, today: date | None = None) -> Detection | None:
    """What identifier a column holds, judged on its values first and its name second.

    ``values`` is a sample of the column's text (the first :data:`SAMPLE` non-empty ones are
    looked at). Content decides: whole values that are e-mail addresses, phone numbers,
    national IDs, dates of birth, registry numbers, coordinates, addresses or people's names,
    then identifiers inside free text. A name alone (``phone``, ``নাম``) blocks only when the
    values could be such identifiers; over yes/no answers, a few categories or small numbers it
    gives a non-blocking Detection that says why.
    """
    today = today or date.today()
    vals = _clean(values)
    named, plainly = header_match(header)
    n = len(vals)
    if n == 0:
        if named and plainly:
            return Detection(
                named, 0, 0, why=msg(N_("named so; no values in the rows sampled")), by_name=True
            )
        return None
    counts = Counter(vals)
    # the name's word counts as evidence about the values only where the name says it plainly
    found = _whole_values(header, vals, counts, named if plainly else None, today)
    if found is not None:
        kind, hits = found
        why = msg(
            N_("{matched} of {values} {detail}"),
            matched=num(hits.matched),
            values=nmsg("{n} value", "{n} values", n),
            detail=hits.detail,
        )
        return Detection(kind, hits.matched, n, tuple(hits.examples), why, by_name=named == kind)
    innocent = innocent_reason(vals)
    if named and innocent and not plainly:
        return None  # phone_type, email_access: a word of the name, and values that identify nobody
    if named and innocent:
        return Detection(
            named,
            0,
            n,
            why=msg(N_("named so, but its values are {innocent}"), innocent=innocent),
            by_name=True,
            blocking=False,
        )
    long_text = sum(len(v) >= 25 or len(v.split()) >= 4 for v in vals)
    if long_text >= 0.3 * n:
        inside = [d for d in scan_text(vals) if d.kind != "person_name" or d.matched >= 2]
        if inside:
            return max(inside, key=lambda d: d.matched)
    if named and plainly:
        return Detection(
            named, 0, n, why=msg(N_("named so, and its values could be such identifiers")), by_name=True
        )
    return None  # a word of the name alone (name_en, structure_name) says nothing the values do not


def _contacts(counts: Counter[str], n: int, named: str | None) -> tuple[str, _Hits] | None:
    """Whole values that are e-mail addresses or phone numbers (not dates, not structured codes)."""
    emails = _Hits("email", detail=msg(N_("are e-mail addresses")))
    phones = _Hits("phone")
    regions: Counter[str] = Counter()
    for v, c in counts.items():
        if "@" in v and _EMAIL.fullmatch(v):
            emails.add(c, v)
    # a structured code (most values share a long prefix) is no phone unless written with its +
    structured = _structured([d for v in counts if (d := _digits(v))])
    tried = 0
    for v, c in counts.items():
        if tried >= _EARLY and phones.matched < 0.1 * tried:
            break  # no phone column: spare libphonenumber the rest
        if not _PHONE_CANDIDATE.fullmatch(v) or (structured and not v.startswith(("+", "00"))):
            continue
        tried += 1
        region = phone_region(v, named == "phone")
        if region:
            phones.add(c, v)
            regions[region] += c
    if _share(emails.matched, n, at_least=0.3):
        return "email", emails
    if not _share(phones.matched, n, at_least=0.3):
        return None
    where = ", ".join(r for r, _ in regions.most_common(3) if r != "+")
    phones.detail = (
        msg(N_("are phone numbers (valid in {regions})"), regions=where)
        if where
        else msg(N_("are phone numbers (with a country code)"))
    )
    return "phone", phones


def _places(counts: Counter[str], n: int, named: str | None) -> tuple[str, _Hits] | None:
    """Whole values that are coordinates (a pair, or one of them under a lat/lon name) or addresses."""
    coords = _Hits("coordinates", detail=msg(N_("are latitude/longitude pairs")))
    single = _Hits("coordinates", detail=msg(N_("are latitudes or longitudes")))
    address = _Hits("address", detail=msg(N_("are home addresses (house or plot numbers, streets)")))
    for v, c in counts.items():
        if _coordinate_hits(v):
            coords.add(c, v)
        elif re.fullmatch(r"-?\d{1,3}\.\d{2,}", v) and abs(float(v)) <= 180:
            single.add(c, v)
        if _ADDRESS.search(v):
            address.add(c, v)
    if _share(coords.matched, n, at_least=0.3):
        return "coordinates", coords
    if named == "coordinates" and _share(single.matched, n, at_least=0.5):
        return "coordinates", single
    if _share(address.matched, n, at_least=0.3 if named != "address" else 0.1):
        return "address", address
    return None


def _whole_values(
    header: str, vals: list[str], counts: Counter[str], named: str | None, today: date
) -> tuple[str, _Hits] | None:
    """The kind most values are, with the hits; content first, the name as evidence."""
    n = len(vals)
    found = _contacts(counts, n, named)
    if found is not None:
        return found
    ids = _national_ids(counts, n, named == "national_id")
    if ids is not None:
        return "national_id", ids
    other_date = bool(set(normalise_name(header).split("_")) & _NOT_DOB)
    dob = _dates_of_birth(counts, n, named == "date_of_birth", today, other_date=other_date)
    if dob is not None:
        return "date_of_birth", dob
    registry = _registry(counts, n, named == "registry_number")
    if registry is not None:
        return "registry_number", registry
    found = _places(counts, n, named)
    if found is not None:
        return found
    tokens = set(normalise_name(header).split("_"))
    names = _names(vals, counts, named == "person_name", bool(tokens & _NOT_PERSON), bool(tokens & _PEOPLE))
    return ("person_name", names) if names is not None else None


# countries' boxes: (lat min, lat max, lon min, lon max)
_BOXES = {
    "KE": (-5.0, 5.5, 33.5, 42.0), "NP": (26.3, 30.5, 80.0, 88.3), "BD": (20.5, 26.7, 88.0, 92.7),
    "IN": (6.5, 35.7, 68.0, 97.5), "VN": (8.3, 23.5, 102.1, 109.6), "MW": (-17.2, -9.3, 32.6, 36.0),
}  # fmt: skip
_LAT_WORDS = ("lat", "latitude", "अक्षांश", "অক্ষাংশ", "vĩ_độ", "vi_do", "y")
_LON_WORDS = ("lon", "lng", "long", "longitude", "देशान्तर", "দ্রাঘিমাংশ", "kinh_độ", "kinh_do", "x")


_PRECISE = re.compile(r"-?\d{1,3}\.\d{4,}")


def _precise_numbers(values: Sequence[str | None]) -> list[float | None] | None:
    """The column as numbers, row by row (None where empty or not a number with 4 or more
    decimals), when at least 80 % of its non-empty values are such numbers."""
    out: list[float | None] = []
    present = hits = 0
    for v in values[: SAMPLE * 4]:
        text = v.strip() if v else ""
        present += bool(text)
        ok = bool(text) and _PRECISE.fullmatch(text) is not None
        hits += ok
        out.append(float(text) if ok else None)
    return out if present >= 2 and hits >= 0.8 * present else None


def _pair(
    lat: list[float | None], lon: list[float | None], by_name: bool
) -> tuple[list[tuple[float, float]], str] | None:
    """The rows' (lat, lon) points and the country they fall in, if the two columns are a pair."""
    points = [(x, y) for x, y in zip(lat, lon, strict=False) if x is not None and y is not None]
    if len(points) < 2:
        return None
    for country, (la0, la1, lo0, lo1) in _BOXES.items():
        if sum(la0 <= x <= la1 and lo0 <= y <= lo1 for x, y in points) >= 0.8 * len(points):
            return points, country
    if by_name and all(abs(x) <= 90 and abs(y) <= 180 for x, y in points):
        return points, ""
    return None


def coordinate_pairs(columns: Mapping[str, Sequence[str | None]]) -> dict[str, Detection]:
    """Latitude and longitude in two columns: numbers with 4 or more decimals (about 10 m), row by
    row inside one of the project's countries (or anywhere, when the names say lat/lon).

    Candidates are columns whose names say latitude and longitude, then neighbouring columns
    (exports keep the two side by side), latitude first; each column is in at most one pair, so
    a column of proportions next to a longitude is not taken for a latitude.
    """
    heads = list(columns)
    precise = {h: nums for h in heads if (nums := _precise_numbers(columns[h])) is not None}
    named = [
        (a, b, True)
        for a in precise
        for b in precise
        if a != b and _last_word(a) in _LAT_WORDS and _last_word(b) in _LON_WORDS
    ]
    adjacent = [
        pair
        for a, b in itertools.pairwise(heads)
        if a in precise and b in precise
        for pair in ((a, b, False), (b, a, False))
    ]
    out: dict[str, Detection] = {}
    for lat_h, lon_h, by_name in named + adjacent:
        if lat_h in out or lon_h in out:
            continue
        found = _pair(precise[lat_h], precise[lon_h], by_name)
        if found is None:
            continue
        points, country = found
        n = len(points)
        for h, i, role, other in (
            (lat_h, 0, N_("latitudes"), lon_h),
            (lon_h, 1, N_("longitudes"), lat_h),
        ):
            total = len(_clean(columns[h]))
            params = {"matched": num(n), "values": nmsg("{n} value", "{n} values", total),
                      "role": msg(role), "other": other, "country": country}  # fmt: skip
            out[h] = Detection(
                "coordinates", n, total, (mask(f"{points[0][i]:.5f}", "coordinates"),),
                msg(N_("{matched} of {values} are {role} with 4 or more decimals (about 10 m), paired with "
                       "'{other}', inside {country}"), **params)
                if country
                else msg(N_("{matched} of {values} are {role} with 4 or more decimals (about 10 m), paired "
                            "with '{other}'"), **params),
                by_name=by_name,
            )  # fmt: skip
    return out


def _last_word(header: str) -> str:
    norm = normalise_name(header.split("/")[-1])
    return norm.rsplit("_", 1)[-1] if norm not in _LAT_WORDS + _LON_WORDS else norm


def detect_columns(
    columns: Mapping[str, Sequence[str | None]], *, today: date | None = None
) -> dict[str, Detection]:
    """:func:`detect` for every column of a table, plus latitude/longitude pairs; columns with no
    finding are left out."""
    out = coordinate_pairs(columns)
    for header, values in columns.items():
        if header in out:
            continue
        found = detect(header, values, today=today)
        if found is not None:
            out[header] = found
    return out
