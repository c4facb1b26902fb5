"""The clinical and real-world parameters the demo cohort is drawn from.

Clinic mix, care models, routes, conditions and response classes; prices; adverse-event
rates per dosing session with their severities and actions; the opioid products patients
arrive on. The shapes follow the published figures cited in ``sample``'s docstring.
"""

from __future__ import annotations

import datetime as dt

#: Fixed calendar anchor: referrals start here; nothing depends on today's date.
ANCHOR = dt.date(2024, 1, 2)


#: Referrals fall in the first REFERRAL_DAYS days; nothing is dated after END_DAY.
REFERRAL_DAYS = 456
END_DAY = 700  # 2025-12-02
CLINICS = ("Riverside Pain Clinic", "Lakeshore Ketamine Center", "Summit KAP Institute")
CLINIC_CODES = ("RPC", "LKC", "SKI")
CLINIC_SHARE = (0.40, 0.33, 0.27)


#: Lakeshore's export carries no charges.
CLINIC_HAS_COST = (True, False, True)
KAP_SHARE = (0.15, 0.10, 0.85)
ROUTE_SHARE = {  # per clinic, over tables.ROUTES[:5]: IV, IM, intranasal, sublingual, oral
    0: (0.85, 0.10, 0.05, 0.0, 0.0),
    1: (0.80, 0.05, 0.15, 0.0, 0.0),
    2: (0.35, 0.20, 0.10, 0.25, 0.10),
}
CONDITION_SHARE = (0.18, 0.24, 0.22, 0.06, 0.14, 0.16)  # order of tables.CONDITIONS
RESPONSE_CLASSES = ("responder", "partial", "non_responder")
RESPONSE_SHARE = (0.46, 0.27, 0.27)


#: The depression effect of ketamine's own (fraction of the baseline PHQ-9 removed at full
#: effect), apart from the share of pain relief that lifts mood too (PAIN_RELIEF_IN_PHQ9).
#: A larger effect in DEPRESSION_EFFECT_SHARE of the patients with comorbid depression, a small
#: one in everyone else. Tuned so that among patients with a baseline PHQ-9 of 10 or more the
#: end-of-induction response and remission rates fall in the published range: ORKA-1 (McInnes
#: 2022, J Affect Disord 301:486) response 53.6%, remission 28.9%; Mindbloom at-home
#: sublingual (2022) response 62.8%, remission 32.6%; Murrough 2013 response 70.8%.
DEPRESSION_EFFECT_SHARE = 0.85
DEPRESSION_EFFECT_LARGE = (0.4, 0.8)
DEPRESSION_EFFECT_SMALL = (0.0, 0.2)
PAIN_RELIEF_IN_PHQ9 = 0.45
#: The depression effect lasts this many times the patient's pain-relief durability: ORKA-1
#: kept response in ~80% at 4 weeks and ~60% at 8 weeks, longer than pain relief lasts
#: (Sigtermans 2009: CRPS pain relief no longer significant at week 12).
DEPRESSION_DURABILITY_FACTOR = 2.0
#: After its durability, relief fades with this time constant (days): most benefit is lost within
#: weeks, with a tail (Sigtermans 2009: CRPS relief no longer significant at week 12).
RELIEF_FADE_DAYS = 14.0


#: Charges by route (USD per dosing session); a CRPS 4-hour infusion costs more.
PRICE = {"IV": 550.0, "IM": 400.0, "intranasal": 650.0, "sublingual": 350.0, "oral": 350.0}
PRICE_CRPS_IV = 1150.0
DAY_MINUTES = 1440  # minutes


#: Per dosing session: event, probability, severity weights (mild, moderate, severe),
#: actions and their weights. Probabilities tuned so that about half the patients report an
#: adverse event in their first week of dosing (OKAPI, Corriger 2022, n=256 IV ketamine for
#: chronic pain: adverse events in 50% at week 1), led by dissociation. Serious events
#: (psychosis, respiratory depression) come only at a patient's last dose, at 8 times these rates.
ADVERSE_EVENT_RATES = (
    (
        "dissociation",
        0.09,
        (0.75, 0.22, 0.03),
        ("none", "observation_extended", "infusion_slowed"),
        (0.6, 0.25, 0.15),
    ),
    (
        "nausea_vomiting",
        0.036,
        (0.7, 0.27, 0.03),
        ("medication_given", "none", "infusion_slowed"),
        (0.6, 0.3, 0.1),
    ),
    ("dizziness", 0.028, (0.8, 0.18, 0.02), ("none", "observation_extended"), (0.6, 0.4)),
    ("sedation", 0.024, (0.75, 0.22, 0.03), ("observation_extended", "none"), (0.6, 0.4)),
    ("headache", 0.016, (0.7, 0.27, 0.03), ("medication_given", "none"), (0.5, 0.5)),
    (
        "anxiety_panic",
        0.014,
        (0.6, 0.33, 0.07),
        ("none", "medication_given", "infusion_slowed"),
        (0.4, 0.3, 0.3),
    ),
    ("raised_heart_rate", 0.008, (0.8, 0.18, 0.02), ("none", "infusion_slowed"), (0.6, 0.4)),
    ("vivid_dreams", 0.01, (0.85, 0.15, 0.0), ("none", "next_dose_reduced"), (0.8, 0.2)),
    ("visual_disturbance", 0.01, (0.85, 0.15, 0.0), ("none",), (1.0,)),
    (
        "hallucinations",
        0.005,
        (0.5, 0.4, 0.1),
        ("infusion_slowed", "none", "next_dose_reduced"),
        (0.5, 0.3, 0.2),
    ),
    ("memory_effects", 0.002, (0.8, 0.2, 0.0), ("none",), (1.0,)),
    ("other", 0.002, (0.9, 0.1, 0.0), ("none",), (1.0,)),
    ("psychosis", 0.0005, (0.0, 0.0, 1.0), ("infusion_stopped", "hospital_transfer"), (0.5, 0.5)),
    (
        "respiratory_depression",
        0.0004,
        (0.0, 0.0, 1.0),
        ("infusion_stopped", "hospital_transfer"),
        (0.6, 0.4),
    ),
)
OTHER_EVENT_TEXT = (
    "dry mouth",
    "tingling in fingers",
    "slurred speech",
    "itching at the IV site",
    "chills",
)
EVENT_TEXT = {
    "dissociation": ("felt floaty", "out of body feeling", "dissociated, settled with reassurance"),
    "nausea_vomiting": ("nauseous, zofran given", "vomited once"),
    "anxiety_panic": ("panicky at onset", "anxious, midazolam 1 mg"),
    "vivid_dreams": ("vivid dreams",),
    "visual_disturbance": ("blurred vision",),
}


#: Opioid products: ingredient -> (strength, RxNorm product code, description, usual
#: units per day). Codes and texts as Synthea and RxNorm write them; where no product code is
#: given the ingredient's RxNorm code is exported, as some clinics do.
OPIOID_PRODUCTS: dict[str, tuple[tuple[float, str, str, tuple[int, ...]], ...]] = {
    "oxycodone": (
        (
            5.0,
            "1049221",
            "Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG Oral Tablet",
            (3, 4, 6),
        ),
        (
            10.0,
            "1049625",
            "Acetaminophen 325 MG / Oxycodone Hydrochloride 10 MG Oral Tablet",
            (2, 3, 4),
        ),
        (
            15.0,
            "1860154",
            "Abuse-Deterrent 12 HR Oxycodone Hydrochloride 15 MG Extended Release Oral Tablet",
            (2,),
        ),
    ),
    "hydrocodone": (
        (
            5.0,
            "856987",
            "Acetaminophen 300 MG / Hydrocodone Bitartrate 5 MG Oral Tablet",
            (3, 4, 6),
        ),
        (
            7.5,
            "857005",
            "Acetaminophen 325 MG / Hydrocodone Bitartrate 7.5 MG Oral Tablet",
            (2, 3, 4),
        ),
        (10.0, "1860491", "12 HR Hydrocodone Bitartrate 10 MG Extended Release Oral Capsule", (2,)),
    ),
    "tramadol": (
        (50.0, "835603", "tramadol hydrochloride 50 MG Oral Tablet", (2, 3, 4)),
        (100.0, "2179635", "tramadol hydrochloride 100 MG Oral Tablet", (1, 2, 3)),
    ),
    "codeine": (
        (15.0, "993770", "Acetaminophen 300 MG / Codeine Phosphate 15 MG Oral Tablet", (3, 4, 6)),
    ),
    "fentanyl": (
        (25.0, "245134", "72 HR Fentanyl 0.025 MG/HR Transdermal System", (0,)),
        (50.0, "245135", "72 HR Fentanyl 0.05 MG/HR Transdermal System", (0,)),
    ),
    "morphine": ((15.0, "7052", "morphine sulfate 15 MG Extended Release Oral Tablet", (2, 3)),),
    "hydromorphone": ((2.0, "3423", "hydromorphone hydrochloride 2 MG Oral Tablet", (3, 4)),),
    "methadone": ((10.0, "6813", "methadone hydrochloride 10 MG Oral Tablet", (2, 3)),),
    "tapentadol": ((50.0, "787390", "tapentadol 50 MG Oral Tablet", (2, 3, 4)),),
    "oxymorphone": ((5.0, "7814", "oxymorphone hydrochloride 5 MG Oral Tablet", (2, 3)),),
    "buprenorphine": (
        (2.0, "351266", "buprenorphine 2 MG / naloxone 0.5 MG Sublingual Tablet", (2, 3)),
        (8.0, "1010604", "buprenorphine 8 MG / naloxone 2 MG Sublingual Film", (1, 2)),
    ),
}
OPIOID_SHARE = {
    "oxycodone": 0.30,
    "hydrocodone": 0.22,
    "tramadol": 0.16,
    "morphine": 0.08,
    "fentanyl": 0.06,
    "hydromorphone": 0.06,
    "tapentadol": 0.04,
    "methadone": 0.03,
    "codeine": 0.03,
    "oxymorphone": 0.02,
}
