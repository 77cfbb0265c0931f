"""The ``cgd-quality/1.0`` quality-metadata template as pydantic models.

One record per dataset submission. Every field has a human label (its ``title``: "Dataset ID",
not ``dataset.id``) and says, in its JSON Schema extras:

``required_at``
    ``submission`` (a CSO cannot submit without it), ``release`` (the NSO cannot release
    without it) or ``optional``;
``sdmx``
    the SDG metadata (IAEG-SDGs:SDG_MSD) or SIMS concept it is exported to;
``help``
    the plain-language help text shown in the template and the web form.

All fields are optional at the type level so that an incomplete file still loads and the
completeness check can say *which* fields are missing at which stage, rather than the loader
stopping at the first one. Unknown keys are kept (and reported as warnings, since they are
usually typos).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue

PROFILE = "cgd-quality/1.0"


class RequiredAt(StrEnum):
    """When a metadata field becomes mandatory."""

    SUBMISSION = "submission"
    RELEASE = "release"
    OPTIONAL = "optional"


def fld(
    label: str,
    required_at: RequiredAt | str,
    help: str,
    *,
    sdmx: str | None = None,
    default: Any = None,
    **kwargs: Any,
) -> Any:
    """A model field with its human label (the field's ``title``) and the template's extras
    (required_at, sdmx concept, help text).

    The label is what a person reads for the field: the web form's label, the review page's and
    the spreadsheet's name for it, the template's comment and the JSON Schema's ``title``; the
    catalogues translate it (the form's Babel extractor collects it).
    """
    if not label.strip():
        raise ValueError("every metadata field needs a human label")
    extra: dict[str, JsonValue] = {"required_at": str(RequiredAt(required_at)), "help": help}
    if sdmx:
        extra["sdmx"] = sdmx
    return Field(default=default, title=label, description=help, json_schema_extra=extra, **kwargs)


class _Section(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, use_enum_values=True)


Text = str | dict[str, str]  # plain text, or {language code: text}


class Dataset(_Section):
    id: str | None = fld(
        "Dataset ID",
        "submission",
        "A short identifier for the dataset: lower-case letters, digits and - or _ "
        "(e.g. ke-health-scorecard-2024).",
        sdmx="SIMS S.2",
        pattern=r"^[a-z0-9][a-z0-9_-]{2,63}$",
    )
    version: str | None = fld(
        "Version number",
        "submission",
        "The version of this dataset, as MAJOR.MINOR.PATCH (e.g. 1.0.0). Raise it for every resubmission.",
        sdmx="META_LAST_UPDATE",
        pattern=r"^\d+\.\d+\.\d+$",
    )
    title: Text | None = fld(
        "Title",
        "submission",
        "The dataset's title; a text, or one per language (en: ..., sw: ...).",
        sdmx="SIMS S.2",
    )
    languages: list[str] | None = fld(
        "Languages of the data",
        "optional",
        "Languages of the data and labels, as ISO 639-1 codes (e.g. [en, sw]).",
        sdmx="SIMS S.2",
    )


class ProducerType(StrEnum):
    CSO = "CSO"
    CBO = "CBO"
    COALITION = "coalition"
    NHRI = "NHRI"
    ACADEMIA = "academia"
    OTHER = "other"


class Producer(_Section):
    organisation: str | None = fld(
        "Organisation name",
        "submission",
        "The organisation that produced the data.",
        sdmx="CONTACT_ORGANISATION",
    )
    type: ProducerType | None = fld(
        "Kind of organisation",
        "submission",
        "The kind of organisation: CSO, CBO, coalition, NHRI, academia or other.",
    )
    contact_name: str | None = fld(
        "Contact person", "optional", "A person the NSO can contact.", sdmx="CONTACT_NAME"
    )
    contact_email: str | None = fld(
        "Contact e-mail address",
        "submission",
        "An e-mail address the NSO can write to about this dataset.",
        sdmx="CONTACT_EMAIL",
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    )
    website: str | None = fld("Web site", "optional", "The organisation's web site.")


class ValidationMethod(StrEnum):
    MEETING = "validation meeting"
    INTERFACE = "scorecard interface meeting"
    FEEDBACK = "survey feedback"
    OTHER = "other"


class Ownership(_Section):
    rights_holder: str | None = fld(
        "Who holds the rights to the data",
        "submission",
        "Who owns the data: the community or CSO that holds the rights (may differ from the producer).",
        sdmx="INST_MANDATE",
    )
    community_validated: bool | None = fld(
        "Did the community validate the results?",
        "release",
        "Whether the community validated the results before release (true/false).",
        sdmx="INST_MANDATE",
    )
    validation_date: dt.date | None = fld(
        "Date of the community validation", "optional", "When the community validated the results."
    )
    validation_method: ValidationMethod | None = fld(
        "How the community validated the results",
        "optional",
        "How: validation meeting, scorecard interface meeting, survey feedback or other.",
    )


class Purpose(_Section):
    description: str | None = fld(
        "Purpose of the data",
        "submission",
        "Why the data was collected, in a sentence or two.",
        sdmx="RATIONALE",
    )
    sdg_targets: list[str] | None = fld(
        "SDG targets",
        "submission",
        "The SDG targets the data speaks to (e.g. ['16.6', '3.8']).",
        sdmx="SDG_TARGET",
    )
    sdg_indicators: list[str] | None = fld(
        "SDG indicators", "optional", "The SDG indicators (e.g. ['16.6.2']).", sdmx="SDG_INDICATOR"
    )
    sdg_series: list[str] | None = fld(
        "SDG series codes",
        "optional",
        "The SDG series codes the data maps to (e.g. ['SP_PSR_SATIS']).",
        sdmx="SDG_SERIES_DESCR",
    )


Stage = Literal["design", "collection", "analysis", "validation", "dissemination"]


class Participation(_Section):
    stages: list[Stage] | None = fld(
        "Stages in which citizens took part",
        "submission",
        "Stages in which citizens took part: design, collection, analysis, validation, "
        "dissemination. Citizen data needs at least design or collection.",
        sdmx="COLL_METHOD",
    )
    description: str | None = fld("How citizens took part, in words", "optional", "How citizens took part.")


class MethodType(StrEnum):
    SCORECARD = "community_scorecard"
    SURVEY = "household_survey"
    KII_FGD = "KII/FGD"
    SOCIAL_AUDIT = "social_audit"
    MAPPING = "participatory_mapping"
    CROWDSOURCED = "crowdsourced_reports"
    CITIZEN_SCIENCE = "citizen_science_obs"


class Method(_Section):
    type: MethodType | None = fld(
        "Collection method",
        "submission",
        "The collection method: community_scorecard, household_survey, KII/FGD, social_audit, "
        "participatory_mapping, crowdsourced_reports or citizen_science_obs.",
        sdmx="SOURCE_TYPE",
    )
    instrument: str | None = fld(
        "Questionnaire (file name or link)",
        "submission",
        "The questionnaire: the XLSForm file name or a URL.",
        sdmx="DOC_METHOD",
    )
    instrument_version: str | None = fld(
        "Questionnaire version",
        "optional",
        "The questionnaire's version (the XLSForm settings 'version').",
        sdmx="DOC_METHOD",
    )
    description: str | None = fld(
        "How the data was collected, in words", "optional", "How the data was collected.", sdmx="COLL_METHOD"
    )


class SamplingDesign(StrEnum):
    CENSUS = "census_of_group"
    PROBABILITY = "probability"
    PURPOSIVE = "purposive"
    CONVENIENCE = "convenience"
    SNOWBALL = "snowball"


class Sampling(_Section):
    design: SamplingDesign | None = fld(
        "Sampling design",
        "submission",
        "census_of_group, probability, purposive, convenience or snowball.",
        sdmx="COLL_METHOD",
    )
    frame: str | None = fld("Sampling frame", "submission", "The list or area respondents were drawn from.")
    n_planned: int | None = fld(
        "Number of respondents planned", "submission", "How many respondents were planned.", ge=0
    )
    n_achieved: int | None = fld(
        "Number of respondents who answered",
        "submission",
        "How many respondents answered (must agree with the data).",
        ge=0,
    )


class PopulationGroup(_Section):
    code: str | None = fld(
        "Group code",
        "submission",
        "The group: PD (persons with disability), F (women), M (men), youth, ethnic_minority, "
        "slum_dweller, or another code from your mapping.",
    )
    label: str | None = fld(
        "Name of the group in the data", "optional", "What the group is called in the data."
    )
    local_label: str | None = fld(
        "Name in the local language", "optional", "The group's name in the local language."
    )


class Population(_Section):
    target: str | None = fld(
        "Target population", "submission", "The population the data describes (who, where).", sdmx="COVERAGE"
    )
    groups: list[PopulationGroup] | None = fld(
        "Population groups",
        "submission",
        "The groups the data is broken down by (each needs a column in the data).",
        sdmx="COVERAGE",
    )


class DisabilityMethod(StrEnum):
    WG_SS = "WG-SS"
    WG_SS_ENHANCED = "WG-SS-enhanced"
    SELF_REPORT = "self-report-yes/no"
    REGISTRY = "card/registry"
    OTHER = "other"


class Identification(_Section):
    disability_method: DisabilityMethod | None = fld(
        "How disability was identified",
        "release",
        "How disability was identified: WG-SS, WG-SS-enhanced, self-report-yes/no, "
        "card/registry or other. Required when the data has a disability breakdown.",
        sdmx="STAT_CONC_DEF",
    )


class AreaLevel(StrEnum):
    NATIONAL = "national"
    ADMIN1 = "admin1"
    ADMIN2 = "admin2"
    ADMIN3 = "admin3"
    SETTLEMENT = "settlement"


class Geography(_Section):
    ref_areas: list[str] | None = fld(
        "Areas covered",
        "submission",
        "The areas covered, as they appear in the data (codes or names).",
        sdmx="REF_AREA",
    )
    level: AreaLevel | None = fld(
        "Level of the areas", "submission", "national, admin1, admin2, admin3 or settlement.", sdmx="COVERAGE"
    )
    codelist: str | None = fld(
        "Codelist of the area codes",
        "optional",
        "The codelist the area codes come from (e.g. CL_AREA_KE, or M49).",
        sdmx="REF_AREA",
    )


class Period(_Section):
    reference_start: dt.date | None = fld(
        "Reference period: first day",
        "submission",
        "First day of the period the data describes (YYYY-MM-DD).",
        sdmx="SIMS S.5",
    )
    reference_end: dt.date | None = fld(
        "Reference period: last day",
        "submission",
        "Last day of the period the data describes.",
        sdmx="SIMS S.5",
    )
    collection_start: dt.date | None = fld(
        "Data collection: first day", "submission", "First day of data collection.", sdmx="TIME_DETAIL"
    )
    collection_end: dt.date | None = fld(
        "Data collection: last day", "submission", "Last day of data collection.", sdmx="TIME_DETAIL"
    )


class Frequency(StrEnum):
    ONCE = "once"
    ANNUAL = "annual"
    BIANNUAL = "biannual"
    QUARTERLY = "quarterly"
    MONTHLY = "monthly"
    IRREGULAR = "irregular"


class Release(_Section):
    published: dt.date | None = fld(
        "Publication date",
        "submission",
        "When the CSO published or will publish the results.",
        sdmx="REL_CAL_POLICY",
    )
    embargo_until: dt.datetime | None = fld(
        "Embargo until (UTC)",
        "optional",
        "Nobody but the producer and its MoU reviewers sees the data before this time "
        "(YYYY-MM-DDTHH:MM:SSZ, UTC).",
        sdmx="REL_CAL_POLICY",
    )
    frequency: Frequency | None = fld(
        "How often the data is released",
        "optional",
        "once, annual, biannual, quarterly, monthly or irregular.",
        sdmx="FREQ_DISS",
    )


class ConsentForm(StrEnum):
    VERBAL = "verbal"
    WRITTEN = "written"
    DIGITAL = "digital"


class ConsentScope(StrEnum):
    COLLECTION_ONLY = "collection_only"
    AGGREGATE_PUBLICATION = "aggregate_publication"
    SHARING_WITH_NSO = "sharing_with_nso"
    OPEN = "open"


class Consent(_Section):
    obtained: bool | None = fld(
        "Did every respondent give informed consent?",
        "submission",
        "Whether every respondent gave informed consent (must be true).",
        sdmx="SIMS S.7",
    )
    form: ConsentForm | None = fld("How consent was given", "submission", "verbal, written or digital.")
    scope: ConsentScope | None = fld(
        "What respondents agreed to",
        "submission",
        "What respondents agreed to: collection_only, aggregate_publication, sharing_with_nso "
        "or open. Sharing with the NSO needs sharing_with_nso or open.",
    )


class EthicsReview(StrEnum):
    IRB = "IRB"
    CSO_PROTOCOL = "CSO-ethics-protocol"
    NONE = "none"


class Ethics(_Section):
    review: EthicsReview | None = fld(
        "Kind of ethics review", "release", "IRB, CSO-ethics-protocol or none.", sdmx="SIMS S.7"
    )
    reference: str | None = fld("Approval reference", "optional", "The approval's reference number or link.")
    harm_mitigation: str | None = fld(
        "How harm was prevented",
        "release",
        "How harm to respondents and communities was prevented.",
        sdmx="SIMS S.7",
    )


class DisclosureControl(_Section):
    threshold: int | None = fld(
        "Smallest number of people per figure",
        "optional",
        "The smallest number of people a published figure may rest on (default 5; 3 if the MoU "
        "allows; below 3 is refused).",
        default=None,
        ge=1,
        le=50,
    )
    group_size: int | None = fld(
        "Smallest group for 0 % or 100 %",
        "optional",
        "The smallest group whose 0 % or 100 % may be published (default twice the threshold).",
        default=None,
        ge=1,
        le=1000,
    )
    method: str | None = fld(
        "Disclosure control method", "optional", "e.g. 'primary and secondary cell suppression'."
    )
    risk_score: float | None = fld(
        "Disclosure risk score", "optional", "A disclosure risk score, if computed (0-1).", ge=0, le=1
    )


class Privacy(_Section):
    pii_removed: bool | None = fld(
        "Were personal details removed?",
        "submission",
        "Whether names, phone numbers, IDs and exact locations were removed.",
        sdmx="QUALITY_ASSURE",
    )
    disclosure_control: DisclosureControl | None = fld(
        "Small-cell rules", "optional", "Small-cell rules applied to the published counts.", sdmx="SIMS S.7.2"
    )


class Processing(_Section):
    steps: list[str] | None = fld(
        "Processing steps",
        "submission",
        "What was done to the data after collection (cleaning, coding, weighting).",
        sdmx="DATA_VALIDATION",
    )
    validation_rules: list[str] | None = fld(
        "Checks run on the data",
        "submission",
        "The checks the CSO ran on the data (at least one).",
        sdmx="DATA_VALIDATION",
    )


class Comparability(_Section):
    official_indicator: str | None = fld(
        "Official indicator compared with",
        "release",
        "The official indicator or series this data compares with (e.g. SP_PSR_SATIS).",
        sdmx="COMPARABILITY",
    )
    deviations: str | None = fld(
        "Differences from the official method",
        "release",
        "How the method differs from the official indicator's.",
        sdmx="COMPARABILITY",
    )


def _yes_no(value: Any) -> Any:
    # YAML 1.1 reads a bare yes/no as a boolean; the DSAT answers are the words
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value.strip().lower() if isinstance(value, str) else value


YesNo = Annotated[Literal["yes", "no"], BeforeValidator(_yes_no)]


class DsatEthics(_Section):
    benefit: YesNo | None = fld(
        "Benefit to the population",
        "release",
        "Does the information provide a clear benefit to the population?",
    )
    fairness_no_harm: YesNo | None = fld(
        "Fairness and no harm",
        "release",
        "Are sensitive topics handled so as to ensure fairness and cause no harm?",
    )
    transparency_accountability: YesNo | None = fld(
        "Transparency and accountability",
        "release",
        "Are the methods monitored and communicated alongside the outputs?",
    )
    privacy: YesNo | None = fld(
        "Privacy of respondents", "release", "Is the privacy of respondents respected?"
    )
    confidentiality: YesNo | None = fld("Confidentiality", "release", "Is confidentiality maintained?")


class DsatDimensions(_Section):
    accuracy_reliability: int | None = fld(
        "Accuracy and reliability (0-3)", "release", "Accuracy and reliability, 0-3.", ge=0, le=3
    )
    timeliness_punctuality: int | None = fld(
        "Timeliness and punctuality (0-3)", "release", "Timeliness and punctuality, 0-3.", ge=0, le=3
    )
    accessibility_clarity: int | None = fld(
        "Accessibility and clarity (0-3)", "release", "Accessibility and clarity, 0-3.", ge=0, le=3
    )
    interpretability: int | None = fld(
        "Interpretability (0-3)", "release", "Interpretability, 0-3.", ge=0, le=3
    )
    coherence_comparability: int | None = fld(
        "Coherence and comparability (0-3)", "release", "Coherence and comparability, 0-3.", ge=0, le=3
    )


class SelfAssessment(_Section):
    ethics: DsatEthics | None = fld(
        "Ethics principles",
        "release",
        "The five ethics principles of Statistics Canada's Data Suitability Assessment Tool, each yes or no.",
        sdmx="QUALITY_ASSMNT",
    )
    dimensions: DsatDimensions | None = fld(
        "Quality dimensions",
        "release",
        "The five quality dimensions, each scored 0-3.",
        sdmx="QUALITY_ASSMNT",
    )


class Quality(_Section):
    self_assessment: SelfAssessment | None = fld(
        "Self-assessment (DSAT)",
        "release",
        "A DSAT-compatible self-assessment. It fails on any ethics 'no', any score of 0, or a "
        "total below 8 of 15.",
        sdmx="QUALITY_ASSMNT",
    )


LICENCES = ("CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0", "ODbL-1.0", "CC-BY-NC-4.0", "custom")


class Licence(_Section):
    id: str | None = fld(
        "Licence",
        "submission",
        "An SPDX licence id (CC-BY-4.0, CC-BY-SA-4.0, CC0-1.0, ODbL-1.0, CC-BY-NC-4.0) or "
        "'custom' with a URL.",
    )
    url: str | None = fld(
        "Link to the licence text", "optional", "The licence text's URL (required for 'custom')."
    )


class UseCondition(StrEnum):
    STATISTICAL_ONLY = "statistical_purposes_only"
    NO_REIDENTIFICATION = "no_reidentification"
    NO_REDISTRIBUTION = "no_redistribution"
    CITE_SOURCE = "cite_source"
    JOINT_AUTHORSHIP = "joint_authorship"
    DESTROY_ON_TERMINATION = "destroy_on_termination"


class Revision(_Section):
    note: str | None = fld(
        "What changed",
        "optional",
        "What changed since the previous version (required for any version after 1.0.0).",
        sdmx="SIMS S.17",
    )
    supersedes: str | None = fld(
        "Version it replaces", "optional", "The version this one replaces (e.g. 1.0.0)."
    )


class QualityMetadata(_Section):
    """A filled ``cgd-quality/1.0`` record (see ``metadata_templates/cgd-quality.yaml``)."""

    profile: str | None = fld("Template version", "submission", f"Always '{PROFILE}'.", default=PROFILE)
    dataset: Dataset | None = fld("The dataset", "submission", "What the dataset is.")
    producer: Producer | None = fld("Who produced the data", "submission", "Who produced it.")
    ownership: Ownership | None = fld("Who owns the data", "submission", "Who owns it.")
    purpose: Purpose | None = fld("Why the data was collected", "submission", "Why it was collected.")
    participation: Participation | None = fld(
        "How citizens took part", "submission", "How citizens took part."
    )
    method: Method | None = fld("How the data was collected", "submission", "How it was collected.")
    sampling: Sampling | None = fld("Who was asked", "submission", "Who was asked.")
    population: Population | None = fld("Who the data describes", "submission", "Whom it describes.")
    identification: Identification | None = fld(
        "How groups were identified", "optional", "How groups were identified."
    )
    self_identification: bool | None = fld(
        "Did respondents say themselves which groups they belong to?",
        "submission",
        "Whether group membership (disability, ethnicity ...) was self-reported by respondents.",
        sdmx="OTHER_METHOD",
    )
    geography: Geography | None = fld("Areas covered", "submission", "Where.")
    period: Period | None = fld("Periods", "submission", "When.")
    release: Release | None = fld("Release and embargo", "submission", "Release and embargo.")
    consent: Consent | None = fld("Informed consent", "submission", "Informed consent.")
    ethics: Ethics | None = fld("Ethics review", "release", "Ethics review.")
    privacy: Privacy | None = fld("Privacy protection", "submission", "Privacy protection.")
    processing: Processing | None = fld("Processing and checks", "submission", "Processing and validation.")
    limitations: str | None = fld(
        "Known limitations",
        "submission",
        "Known limitations, in at least one sentence (e.g. 'not representative').",
        sdmx="REC_USE_LIM",
    )
    comparability: Comparability | None = fld(
        "Comparison with official statistics", "release", "Comparison with official statistics."
    )
    quality: Quality | None = fld("Quality self-assessment", "release", "Quality self-assessment.")
    licence: Licence | None = fld("Licence and use", "submission", "The licence.")
    use_conditions: list[UseCondition] | None = fld(
        "Conditions on use",
        "optional",
        "Conditions on use: statistical_purposes_only, no_reidentification, no_redistribution, "
        "cite_source, joint_authorship, destroy_on_termination.",
    )
    retention_until: dt.date | None = fld(
        "The NSO may keep the data until", "optional", "Until when the NSO may keep the data."
    )
    revision: Revision | None = fld(
        "Changes since the previous version", "optional", "Revision of an earlier version."
    )


#: What a person reads for each allowed value of a field with a fixed vocabulary (the web form's
#: choices, the review page and the spreadsheet); the value itself is what the record holds.
CHOICE_LABELS: dict[str, str] = {
    # ProducerType
    "CSO": "Civil-society organisation (CSO)",
    "CBO": "Community-based organisation (CBO)",
    "coalition": "Coalition of organisations",
    "NHRI": "National human rights institution (NHRI)",
    "academia": "University or research institute",
    "other": "Other",
    # ValidationMethod
    "validation meeting": "Validation meeting",
    "scorecard interface meeting": "Scorecard interface meeting",
    "survey feedback": "Feedback on the survey results",
    # Stage
    "design": "Design",
    "collection": "Collection",
    "analysis": "Analysis",
    "validation": "Validation",
    "dissemination": "Dissemination",
    # MethodType
    "community_scorecard": "Community scorecard",
    "household_survey": "Household survey",
    "KII/FGD": "Key-informant interviews or focus groups",
    "social_audit": "Social audit",
    "participatory_mapping": "Participatory mapping",
    "crowdsourced_reports": "Crowdsourced reports",
    "citizen_science_obs": "Citizen-science observations",
    # SamplingDesign
    "census_of_group": "Everyone in the group (census)",
    "probability": "Probability sample",
    "purposive": "Purposive sample",
    "convenience": "Convenience sample",
    "snowball": "Snowball sample",
    # DisabilityMethod
    "WG-SS": "Washington Group Short Set (WG-SS)",
    "WG-SS-enhanced": "Washington Group Short Set, enhanced",
    "self-report-yes/no": "A yes/no question (self-report)",
    "card/registry": "Disability card or registry",
    # AreaLevel
    "national": "The whole country",
    "admin1": "First administrative level (e.g. county)",
    "admin2": "Second administrative level (e.g. sub-county)",
    "admin3": "Third administrative level (e.g. ward)",
    "settlement": "Settlement or village",
    # Frequency
    "once": "Once",
    "annual": "Every year",
    "biannual": "Twice a year",
    "quarterly": "Every quarter",
    "monthly": "Every month",
    "irregular": "At irregular times",
    # ConsentForm
    "verbal": "Spoken (verbal)",
    "written": "Written",
    "digital": "Digital (on a phone or online)",
    # ConsentScope
    "collection_only": "Collection only",
    "aggregate_publication": "Publishing totals only",
    "sharing_with_nso": "Sharing with the national statistics office",
    "open": "Open use",
    # EthicsReview
    "IRB": "Institutional review board (IRB)",
    "CSO-ethics-protocol": "The organisation's own ethics protocol",
    "none": "No ethics review",
    # LICENCES
    "CC-BY-4.0": "Creative Commons Attribution 4.0 (CC-BY-4.0)",
    "CC-BY-SA-4.0": "Creative Commons Attribution-ShareAlike 4.0 (CC-BY-SA-4.0)",
    "CC0-1.0": "Public domain dedication (CC0-1.0)",
    "ODbL-1.0": "Open Database Licence 1.0 (ODbL-1.0)",
    "CC-BY-NC-4.0": "Creative Commons Attribution-NonCommercial 4.0 (CC-BY-NC-4.0)",
    "custom": "Another licence (give the link to its text)",
    # UseCondition
    "statistical_purposes_only": "For statistical purposes only",
    "no_reidentification": "No attempt to identify anyone",
    "no_redistribution": "No passing the data on",
    "cite_source": "Cite the source",
    "joint_authorship": "Joint authorship of publications",
    "destroy_on_termination": "Destroy the data when the agreement ends",
    # YesNo, and the form's yes/no questions
    "yes": "Yes",
    "no": "No",
}
