"""A corpus of identifiers as they appear in clinic free text, for the scrubbing tests.

Each list holds identifiers in the formats an attacker's pass (issue 15) found in side-effect
text, adverse-event text and medication descriptions, plus ``CLINICAL``: text that must come
through the scrubber unchanged (doses, scores, vital signs, sigs, LOINC and RxNorm codes).
All identities are invented.
"""

from __future__ import annotations

PHONES = (
    "5551234567",
    "555-123-4567",
    "555.123.4567",
    "555 123 4567",
    "(555) 123-4567",
    "(555)123-4567",
    "+1 555 123 4567",
    "+1-555-123-4567",
    "1-555-123-4567",
    "+15551234567",
    "+44 20 7946 0958",
    "+33 1 23 45 67 89",
    "0044 20 7946 0958",
    "+49 (0)30 901820",
    "555-1234567",
)
SSNS = ("123-45-6789", "123 45 6789", "123456789", "SSN 078051120", "soc sec 219-09-9999")
EMAILS = ("jane.doe@example.com", "j_o'brien+kap@mail.example.org", "PT123@clinic.example")
ADDRESSES = (
    "12 Elm St",
    "12 Elm Street",
    "400 Oak Avenue Apt 4B",
    "400 oak ave, unit 3",
    "77 North Lake Shore Dr.",
    "1600 Pennsylvania Ave NW",
    "9 Rue Blvd #12",
    "PO Box 4471",
    "3150 old mill road suite 200",
)
DATES = (
    "DOB 04/06/1971",
    "dob: 4/6/71",
    "date of birth 1971-04-06",
    "born March 4, 1971",
    "born on 4 Mar 1971",
    "06.04.1971",
    "1971-04-06",
    "12/31/1958",
    "Apr 6, 1971",
    "6th April 1971",
)
IDS = (
    "MRN 12345",
    "MRN: A12345",
    "mrn#778899",
    "MR# 55512",
    "chart no. 998877",
    "acct 4455667",
    "DEMO-000123",
    "RPC-1234567",
    "member id XJQ9912345",
    "00123456789",
)
#: Values of identifier columns (patient names, responsible party, ...): scrubbed from the
#: free text of the same file wherever they appear.
NAMES = (
    "Zebediah Quintrell",
    "zebediah quintrell",
    "Siobhan O'Flanagan",
    "Marie-Thérèse Vasquez-Holloway",
    "D'Angelo Brightwater",
    "Yevgenia Oyelaran",
)
CLINICAL = (
    "nausea, mild dissociation; felt floaty",
    "BP 150/95, HR 110",
    "ondansetron 4 mg given",
    "pain 7/10 after 40 mg",
    "Oxycodone Hydrochloride 5 MG Oral Tablet",
    "Acetaminophen 325 MG / Hydrocodone Bitartrate 7.5 MG Oral Tablet",
    "72 HR Fentanyl 0.025 MG/HR Transdermal System",
    "1 tab PO q6h prn",
    "2 tabs po tid x 30 days",
    "score 7 out of 10",
    "SpO2 94% on room air",
    "weight 82.5 kg",
)
#: Every identifier string: none may appear in any stored or printed output.
ALL = PHONES + SSNS + EMAILS + ADDRESSES + DATES + IDS + NAMES
