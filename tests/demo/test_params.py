"""The demo cohort's parameters (kapoutcomes.demo.params): shares are probability vectors over
the vocabularies they index, and the calendar is the one the catalogue describes."""

from __future__ import annotations

import datetime as dt

import pytest

from kapoutcomes import tables
from kapoutcomes.definitions import opioids
from kapoutcomes.demo import params as pm


def test_calendar():
    assert pm.ANCHOR + dt.timedelta(days=pm.END_DAY) == dt.date(2025, 12, 2)
    assert pm.REFERRAL_DAYS < pm.END_DAY


def test_shares_are_probabilities_over_their_vocabularies():
    assert len(pm.CLINICS) == len(pm.CLINIC_CODES) == len(pm.CLINIC_SHARE) == 3
    assert sum(pm.CLINIC_SHARE) == pytest.approx(1)
    assert len(pm.CONDITION_SHARE) == len(tables.CONDITIONS)
    assert sum(pm.CONDITION_SHARE) == pytest.approx(1)
    assert sum(pm.RESPONSE_SHARE) == pytest.approx(1)
    for clinic, share in pm.ROUTE_SHARE.items():
        assert 0 <= clinic < 3 and len(share) == 5 and sum(share) == pytest.approx(1)
    assert sum(pm.OPIOID_SHARE.values()) == pytest.approx(1)
    assert set(pm.PRICE) == set(tables.ROUTES[:5])


def test_adverse_events_use_the_vocabulary_and_weights_sum_to_one():
    for event, prob, sev, actions, act_p in pm.ADVERSE_EVENT_RATES:
        assert event in tables.EVENTS, event
        assert 0 < prob < 1
        assert len(sev) == 3 and sum(sev) == pytest.approx(1), event
        assert len(actions) == len(act_p) and sum(act_p) == pytest.approx(1), event
        assert set(actions) <= set(tables.ACTIONS), event
    assert set(pm.EVENT_TEXT) <= {e for e, *_ in pm.ADVERSE_EVENT_RATES}


def test_opioid_products_are_known_ingredients():
    known = set(opioids.INGREDIENTS) | {"buprenorphine"}
    assert set(pm.OPIOID_SHARE) <= known
    for ingredient, products in pm.OPIOID_PRODUCTS.items():
        assert ingredient in known
        for strength, code, text, per_day in products:
            assert strength > 0 and code.isdigit() and ingredient in text.lower() and per_day
