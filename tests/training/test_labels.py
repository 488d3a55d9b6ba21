"""Label vocabulary: attributed clips get fixed classes, unattributed groups get VQ code classes."""

from __future__ import annotations

import numpy as np
import pytest

from sslasd.data.clip import Clip
from sslasd.errors import DataError
from sslasd.training.labels import LabelVocabulary


def _clip(machine: str, section: str, attrs: dict[str, str], no_attr: bool = False, i: int = 0) -> Clip:
    return Clip(
        f"{machine}/train/x{i}.wav", 2024, machine, section, "source", "train", "normal", attrs, no_attr
    )


CLIPS = [
    _clip("fan", "00", {"vel": "8"}, i=0),
    _clip("fan", "00", {"vel": "6"}, i=1),
    _clip("fan", "00", {"vel": "8"}, i=2),
    _clip("slider", "00", {}, no_attr=True, i=3),
    _clip("slider", "00", {}, no_attr=True, i=4),
    _clip("valve", "01", {}, i=5),
]


def test_vq_vocabulary() -> None:
    vocab = LabelVocabulary.build(CLIPS, vq=True, n_codes=3)
    assert vocab.machines == ("fan", "slider", "valve")
    assert vocab.vq_groups == (("slider", "00"), ("valve", "01"))
    assert vocab.n_classes == 2 + 2 * 3
    enc = vocab.encode(CLIPS)
    assert enc["target"][0] == enc["target"][2] != enc["target"][1]
    assert (enc["target"][3:] == -1).all() and (enc["vq_group"][:3] == -1).all()
    assert enc["vq_group"].tolist()[3:] == [0, 0, 1]
    offsets = vocab.vq_offsets()
    assert [vocab.classes[o] for o in offsets] == ["slider|00|vq0", "valve|01|vq0"]
    assert enc["section"].tolist() == [0, 0, 0, 1, 1, 2]


def test_without_vq_each_group_is_one_class() -> None:
    vocab = LabelVocabulary.build(CLIPS, vq=False, n_codes=3)
    enc = vocab.encode(CLIPS)
    assert vocab.vq_groups == () and vocab.n_classes == 4
    assert (enc["target"] >= 0).all() and enc["target"][3] == enc["target"][4] != enc["target"][5]


def test_unknown_machine_gets_minus_one_and_round_trip() -> None:
    vocab = LabelVocabulary.build(CLIPS, vq=True, n_codes=2)
    assert vocab.machine_id("pump") == -1
    assert LabelVocabulary.from_dict(vocab.to_dict()) == vocab
    shuffled = LabelVocabulary.build(CLIPS[::-1], vq=True, n_codes=2)
    assert shuffled == vocab
    assert np.array_equal(shuffled.encode(CLIPS)["target"], vocab.encode(CLIPS)["target"])


def _target(machine: str, section: str, attrs: dict[str, str], i: int) -> Clip:
    return Clip(
        f"{machine}/train/t{i}.wav", 2024, machine, section, "target", "train", "normal", attrs, not attrs
    )


def test_domain_classes_give_target_clips_their_own_class_and_keep_them_out_of_vq() -> None:
    """The published recipe's labels: the domain is part of every class, and the few target clips of
    an unattributed section no longer share pseudo-classes with its source clips."""
    clips = [
        *CLIPS,
        _target("slider", "00", {}, 6),
        _target("slider", "00", {}, 7),
        _target("fan", "00", {"vel": "8"}, 8),
    ]
    without = LabelVocabulary.build(clips, vq=True, n_codes=2)
    assert without.encode(clips)["vq_group"][6] == 0  # before: quantised with the source clips
    vocab = LabelVocabulary.build(clips, vq=True, n_codes=2, domain=True)
    enc = vocab.encode(clips)
    assert enc["vq_group"].tolist() == [-1, -1, -1, 0, 0, 1, -1, -1, -1]
    assert vocab.classes[enc["target"][6]] == "slider|00|target|" and enc["target"][6] == enc["target"][7]
    assert enc["target"][8] != enc["target"][0]  # the same attribute in the other domain: another class
    assert vocab.classes[enc["target"][0]] == "fan|00|source|vel_8"
    assert LabelVocabulary.from_dict(vocab.to_dict()) == vocab
    saved_before_the_option = {k: v for k, v in without.to_dict().items() if k != "domain"}
    assert LabelVocabulary.from_dict(saved_before_the_option) == without


def test_noise_clips_add_one_class_per_owner_after_every_other_class() -> None:
    off = LabelVocabulary.build(CLIPS, vq=True, n_codes=3)
    vocab = LabelVocabulary.build(CLIPS, vq=True, n_codes=3, noise_owners=["fan", "", "fan", "slider"])
    assert off.noise == () and not any("noise" in c for c in off.classes)
    assert vocab.noise == ("", "fan", "slider")
    assert vocab.classes == (*off.classes, "noise", "fan|noise", "slider|noise")
    assert vocab.machines == off.machines and vocab.sections == off.sections  # no machine, no section
    assert (vocab.vq_offsets() == off.vq_offsets()).all()
    np.testing.assert_array_equal(vocab.encode(CLIPS)["target"], off.encode(CLIPS)["target"])
    enc = vocab.encode_noise(["fan", "", "slider"])
    assert [vocab.classes[t] for t in enc["target"]] == ["fan|noise", "noise", "slider|noise"]
    assert enc["machine"].tolist() == [0, -1, 1]  # the owner's adapter id; shared: the mean gate
    assert enc["section"].tolist() == enc["vq_group"].tolist() == [-1, -1, -1]
    assert LabelVocabulary.from_dict(vocab.to_dict()) == vocab
    old = {k: v for k, v in off.to_dict().items() if k != "noise"}  # a run made before the option
    assert LabelVocabulary.from_dict(old) == off


def test_noise_of_a_stranger_machine_is_refused() -> None:
    with pytest.raises(DataError, match=r"noise clips of \['pump'\]: not machines"):
        LabelVocabulary.build(CLIPS, vq=False, n_codes=3, noise_owners=["pump"])
    with pytest.raises(DataError, match=r"noise clips of \['fan'\]: no noise class"):
        LabelVocabulary.build(CLIPS, vq=False, n_codes=3).encode_noise(["fan"])
