"""Each year's official rule on hand-computed cases, and every number against brute force on random data.

With at most 10 normals and no anomaly tied with the top normal, the first ROC step lies at
FPR >= 0.1, so pAUC = (9 + 10 t) / 19 where t is the fraction of anomalies above every normal.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from sslasd.errors import ConfigError, DataError
from sslasd.evaluation import MACHINES, evaluate_scores


def p(t: float) -> float:
    """pAUC when a fraction ``t`` of anomalies lies above every normal (<= 10 normals)."""
    return (9 + 10 * t) / 19


# one section, scores chosen so that the 2021 and 2022+ rules give different numbers:
# source normals 0.1 0.2, source anomaly 0.3; target normals 0.5 0.6, target anomalies 0.7 0.05
SECTION = {
    ("fan", "00", "source", "normal"): [0.1, 0.2],
    ("fan", "00", "source", "anomaly"): [0.3],
    ("fan", "00", "target", "normal"): [0.5, 0.6],
    ("fan", "00", "target", "anomaly"): [0.7, 0.05],
}


@pytest.mark.parametrize("year", [2022, 2023, 2024, 2025, 2026])
def test_2022_to_2026_auc_uses_all_anomalies_of_the_section(year: int, clips_from) -> None:
    clips, scores = clips_from(year, SECTION)
    r = evaluate_scores(clips, scores, year=year)
    (s,) = r.sections
    # AUC_source: normals {0.1, 0.2} vs all anomalies {0.3, 0.7, 0.05}: 4 wins of 6
    assert s.auc_source == pytest.approx(2 / 3)
    # AUC_target: normals {0.5, 0.6} vs all anomalies: only 0.7 wins, 2 of 6
    assert s.auc_target == pytest.approx(1 / 3)
    # pAUC over all 7 clips: 1 of 3 anomalies above every normal
    assert s.pauc == pytest.approx(p(1 / 3))
    # diagnostics: domain clips only
    assert s.domain_auc_source == pytest.approx(1.0)
    assert s.domain_auc_target == pytest.approx(0.5)
    assert s.pauc_source == pytest.approx(p(1.0))
    assert s.pauc_target == pytest.approx(p(0.5))
    assert s.official_keys == ("auc_source", "auc_target", "pauc")
    assert r.official_score == pytest.approx(3 / (3 / 2 + 3 + 57 / 37))
    assert s.counts == {"normal_source": 2, "anomaly_source": 1, "normal_target": 2, "anomaly_target": 2}


def test_2021_uses_domain_clips_only(clips_from) -> None:
    clips, scores = clips_from(2021, SECTION)
    r = evaluate_scores(clips, scores, year=2021)
    (s,) = r.sections
    assert (s.auc_source, s.auc_target) == pytest.approx((1.0, 0.5))
    assert (s.pauc_source, s.pauc_target) == pytest.approx((p(1.0), p(0.5)))
    assert s.official_keys == ("auc_source", "auc_target", "pauc_source", "pauc_target")
    assert r.official_score == pytest.approx(4 / (1 + 2 + 1 + 1 / p(0.5)))
    assert r.machines["fan"]["auc_hmean"] == pytest.approx(2 / (1 + 2))
    assert r.machines["fan"]["pauc_amean"] == pytest.approx((1 + p(0.5)) / 2)


def test_2021_harmonic_mean_over_machines_sections_and_domains(clips_from) -> None:
    spec = dict(SECTION)
    # valve section 01: all four values 1 except AUC_target = 0 (target anomaly below both normals)
    spec |= {
        ("valve", "01", "source", "normal"): [0.1],
        ("valve", "01", "source", "anomaly"): [0.9],
        ("valve", "01", "target", "normal"): [0.4, 0.5],
        ("valve", "01", "target", "anomaly"): [0.3],
    }
    clips, scores = clips_from(2021, spec)
    r = evaluate_scores(clips, scores, year=2021)
    values = [1.0, 0.5, p(1.0), p(0.5), 1.0, 0.0, p(1.0), p(0.0)]  # fan 00, then valve 01
    floored = np.maximum(values, np.finfo(float).eps)
    assert r.official_score == pytest.approx(len(values) / np.sum(1 / floored), rel=1e-12)
    assert r.summary["official_score"] == r.official_score
    assert r.machines["valve"]["auc_target_amean"] == 0.0


def test_2020_arithmetic_mean_per_machine_then_over_machines(clips_from) -> None:
    spec = {
        # fan id 00: AUC 1, pAUC 1; fan id 02: AUC 0.5 (one of two anomalies above both normals), pAUC p(0.5)
        ("fan", "00", "none", "normal"): [0.1, 0.2],
        ("fan", "00", "none", "anomaly"): [0.3],
        ("fan", "02", "none", "normal"): [0.1, 0.2],
        ("fan", "02", "none", "anomaly"): [0.9, 0.0],
        # pump id 00: AUC 0, pAUC 9/19
        ("pump", "00", "none", "normal"): [0.5, 0.6],
        ("pump", "00", "none", "anomaly"): [0.4],
    }
    clips, scores = clips_from(2020, spec)
    r = evaluate_scores(clips, scores, year=2020)
    fan = r.machines["fan"]
    assert fan["auc_amean"] == pytest.approx(0.75)
    assert fan["pauc_amean"] == pytest.approx((1 + p(0.5)) / 2)
    assert fan["score"] == pytest.approx((1 + 0.5 + 1 + p(0.5)) / 4)
    pump_score = (0 + p(0)) / 2
    # the mean over machines, not over the 3 IDs pooled (fan has two IDs, pump one)
    assert r.official_score == pytest.approx((fan["score"] + pump_score) / 2)
    assert r.summary["auc_amean"] == pytest.approx((0.75 + 0.0) / 2)
    assert not any(k.endswith("_hmean") for k in fan)
    assert [s.section for s in r.sections] == ["00", "02", "00"]


def test_2024_source_auc_with_all_anomalies_when_domain_has_none(clips_from) -> None:
    """DCASE 2023+ dev sets: AUC_source is defined even if no anomaly is a source clip."""
    spec = {
        ("ToyCar", "00", "source", "normal"): [0.1, 0.2, 0.3],
        ("ToyCar", "00", "target", "normal"): [0.4],
        ("ToyCar", "00", "target", "anomaly"): [0.35, 0.5],
    }
    clips, scores = clips_from(2024, spec)
    (s,) = evaluate_scores(clips, scores, year=2024).sections
    assert s.auc_source == 1.0
    assert s.auc_target == 0.5
    assert s.domain_auc_source is None and s.pauc_source is None  # no source anomaly: diagnostic undefined


@pytest.mark.parametrize(
    ("year", "drop", "message"),
    [
        (
            2024,
            ("fan", "00", "target", "normal"),
            "fan section 00: AUC \\(target normals \\+ all anomalies\\)",
        ),
        (2021, ("fan", "00", "target", "anomaly"), "fan section 00: AUC \\(target clips\\)"),
        (2020, ("fan", "00", "none", "anomaly"), "fan section 00: AUC: needs normal and anomalous"),
    ],
)
def test_a_set_the_rule_needs_is_missing(year, drop, message, clips_from) -> None:
    spec = (
        dict(SECTION)
        if year != 2020
        else {("fan", "00", "none", "normal"): [0.1], ("fan", "00", "none", "anomaly"): [0.2]}
    )
    spec.pop(drop)
    clips, scores = clips_from(year, spec)
    with pytest.raises(DataError, match=message):
        evaluate_scores(clips, scores, year=year)


@pytest.mark.parametrize("year", [2020, 2021, 2022, 2024])
def test_every_number_equals_brute_force_on_random_data(year: int, clips_from, random_clips, brute) -> None:
    rng = np.random.default_rng(year)
    spec = random_clips(rng, year, ["ToyCar", "fan", "valve"], ["00", "01", "02"])
    clips, scores = clips_from(year, spec)
    r = evaluate_scores(clips, scores, year=year)

    def labelled(machine, section, keep):
        pairs = [
            (int(lab == "anomaly"), v)
            for (m, sec, dom, lab), vals in spec.items()
            if m == machine and sec == section and keep(dom, lab)
            for v in vals
        ]
        return [y for y, _ in pairs], [v for _, v in pairs]

    official = []
    for s in r.sections:
        everything = labelled(s.machine, s.section, lambda d, lab: True)
        assert abs(s.auc - brute.auc(*everything)) < 1e-9
        assert abs(s.pauc - brute.pauc(*everything)) < 1e-9
        if year == 2020:
            official += [brute.auc(*everything), brute.pauc(*everything)]
            continue
        for dom in ("source", "target"):
            own = labelled(s.machine, s.section, lambda d, lab, dom=dom: d == dom)
            mixed = labelled(s.machine, s.section, lambda d, lab, dom=dom: d == dom or lab == "anomaly")
            rule = own if year == 2021 else mixed
            assert abs(getattr(s, f"auc_{dom}") - brute.auc(*rule)) < 1e-9
            assert abs(getattr(s, f"pauc_{dom}") - brute.pauc(*own)) < 1e-9
            assert abs(getattr(s, f"domain_auc_{dom}") - brute.auc(*own)) < 1e-9
            official.append(brute.auc(*rule))
            if year == 2021:
                official.append(brute.pauc(*own))
        if year >= 2022:
            official.append(brute.pauc(*everything))
    if year == 2020:
        per_machine = [np.mean(official[i : i + 6]) for i in range(0, len(official), 6)]
        assert abs(r.official_score - np.mean(per_machine)) < 1e-9
    else:
        assert abs(r.official_score - brute.hmean(official)) < 1e-9


def test_decisions_give_precision_recall_f1_per_domain(clips_from) -> None:
    clips, scores = clips_from(2023, SECTION)
    # flag every clip scored >= 0.3: source tp=1 fp=0 fn=0; target tp=1 fp=2 fn=1 (0.05 missed)
    decisions = {k: int(v >= 0.3) for k, v in scores.items()}
    r = evaluate_scores(clips, scores, year=2023, decisions=decisions)
    (s,) = r.sections
    assert (s.decisions["source"].precision, s.decisions["source"].recall, s.decisions["source"].f1) == (
        1,
        1,
        1,
    )
    target = s.decisions["target"]
    assert (target.precision, target.recall) == pytest.approx((1 / 3, 1 / 2))
    assert target.f1 == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert r.summary["precision_amean"] == pytest.approx((1 + 1 / 3) / 2)
    assert "P-s" in r.format_table()
    # decisions do not change the official score
    assert r.official_score == evaluate_scores(clips, scores, year=2023).official_score


def test_training_clips_are_ignored(clips_from) -> None:
    from dataclasses import replace

    clips, scores = clips_from(2024, SECTION)
    train = [
        replace(
            clips[0], path=clips[0].path.with_name("section_00_source_train_normal_0000.wav"), split="train"
        )
    ]
    assert evaluate_scores(clips + train, scores, year=2024).official_score == pytest.approx(
        evaluate_scores(clips, scores, year=2024).official_score
    )


def test_result_json_and_table(clips_from) -> None:
    spec = {
        (m, "00", dom, lab): vals for (_, _, dom, lab), vals in SECTION.items() for m in MACHINES[2023]["dev"]
    }
    clips, scores = clips_from(2023, spec)
    r = evaluate_scores(clips, scores, year=2023)
    assert r.coverage == "dev"
    d = json.loads(json.dumps(r.to_dict()))
    assert set(d) >= {"year", "official_score", "rule", "sections", "machines", "clips"}
    assert d["official_score"] == r.official_score and d["year"] == 2023
    assert len(d["clips"]) == len(clips) == len(scores)
    assert set(d["clips"][0]) == {"name", "machine", "section", "domain", "label", "score", "decision"}
    assert d["sections"][0]["official"] == pytest.approx(
        {"auc_source": 2 / 3, "auc_target": 1 / 3, "pauc": p(1 / 3)}
    )
    lines = r.format_table().splitlines()
    assert lines[-1] == f"official score (DCASE 2023 rule, development set): {100 * r.official_score:.2f}"
    assert sum(line.startswith("bearing ") for line in lines) == 3  # section row, a-mean, h-mean


def test_partial_set_is_flagged(clips_from) -> None:
    clips, scores = clips_from(2024, SECTION)
    r = evaluate_scores(clips, scores, year=2024)
    assert r.coverage == "partial"
    assert "not comparable" in r.format_table().splitlines()[-1]


@pytest.mark.parametrize("year", [2019, 2027, "2024", None, True])
def test_unknown_year(year, clips_from) -> None:
    clips, scores = clips_from(2024, SECTION)
    with pytest.raises(ConfigError, match="year: got"):
        evaluate_scores(clips, scores, year=year)
