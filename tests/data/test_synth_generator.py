"""The synthetic machines obey their physics; plans are deterministic and named as each DCASE year names."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import hilbert

from sslasd.data import parse_name
from sslasd.data.synth import MACHINES, PRESETS, plan_dataset, render_clip
from sslasd.data.synth.base import Take
from sslasd.data.synth.environment import FAR_EXTRA_METRES, SPEED_OF_SOUND, record_pair
from sslasd.data.synth.plan import is_concealed
from sslasd.data.synth.signals import band_noise

SR = 16000


def _take(machine: str, attributes: dict, fault: str | None = None, seconds: float = 4.0) -> Take:
    return Take(attributes, MACHINES[machine].units[0], fault, 1.0 if fault else 0.0, int(seconds * SR), SR)


def _peak_hz(x: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size), n=8 * x.size))
    f = np.fft.rfftfreq(8 * x.size, 1 / SR)
    band = (f >= low) & (f <= high)
    return float(f[band][np.argmax(spectrum[band])])


@pytest.mark.parametrize(("spd", "factor"), [("1", 1.0), ("3", 1.36), ("5", 1.72)])
def test_fan_blade_pass_frequency_follows_the_speed_attribute(spd: str, factor: float) -> None:
    unit = MACHINES["fan"].units[0]
    x = MACHINES["fan"].render(_take("fan", {"spd": spd, "mic": "A"}), np.random.default_rng(0))
    expected = unit["blades"] * unit["shaft_hz"] * factor
    assert _peak_hz(x, 0.7 * expected, 1.3 * expected) == pytest.approx(expected, rel=0.02)


@pytest.mark.parametrize(("spd", "factor"), [("1", 1.0), ("2", 1.25), ("3", 1.5)])
def test_gearbox_hidden_modes_move_the_mesh_frequency(spd: str, factor: float) -> None:
    unit = MACHINES["gearbox"].units[0]
    x = MACHINES["gearbox"].render(_take("gearbox", {"spd": spd, "load": "1"}), np.random.default_rng(0))
    expected = unit["teeth"] * unit["shaft_hz"] * factor
    assert _peak_hz(x, 0.8 * expected, 1.2 * expected) == pytest.approx(expected, rel=0.02)


@pytest.mark.parametrize(("fault", "order"), [("outer", 3.57), ("inner", 5.43)])
def test_bearing_defect_shows_at_its_defect_frequency_in_the_envelope(fault: str, order: float) -> None:
    """Envelope analysis, as a vibration engineer would do it: band-pass at the housing resonance."""
    spec = MACHINES["bearing"]
    unit = spec.units[0]
    x = spec.render(_take("bearing", {"vel": "6", "loc": "A"}, fault), np.random.default_rng(1))
    from scipy.signal import butter, sosfiltfilt

    band = sosfiltfilt(
        butter(4, [unit["ring_hz"] - 800, unit["ring_hz"] + 800], "bandpass", fs=SR, output="sos"), x
    )
    envelope = np.abs(hilbert(band))
    expected = order * unit["shaft_hz"]
    assert _peak_hz(envelope - envelope.mean(), 30, 150) == pytest.approx(expected, rel=0.03)


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_every_fault_changes_the_sound_of_every_machine(machine: str) -> None:
    spec = MACHINES[machine]
    attributes = spec.source[0]
    normal = spec.render(_take(machine, attributes, seconds=2.0), np.random.default_rng(5))
    assert normal.shape == (2 * SR,) and np.isfinite(normal).all()
    assert 0.2 < np.sqrt(np.mean(normal**2)) < 5  # roughly unit level
    for fault in spec.faults:
        faulty = spec.render(_take(machine, attributes, fault, seconds=2.0), np.random.default_rng(5))
        assert np.isfinite(faulty).all()
        difference = np.sqrt(np.mean((faulty - normal) ** 2) / np.mean(normal**2))
        assert difference > 0.05, f"{machine}/{fault} barely changes the sound"


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_operating_conditions_change_the_sound(machine: str) -> None:
    """Every source condition and the target condition sound different: attributes are not just labels."""
    spec = MACHINES[machine]
    spectra = []
    for attributes in spec.source + spec.target:
        x = spec.render(_take(machine, attributes, seconds=2.0), np.random.default_rng(3))
        spectra.append(np.log(np.abs(np.fft.rfft(x))[:16000].reshape(-1, 100).mean(axis=1) + 1e-9))
    distances = [np.abs(a - b).mean() for i, a in enumerate(spectra) for b in spectra[i + 1 :]]
    assert min(distances) > 0.05


def test_band_noise_is_band_limited() -> None:
    x = band_noise(SR * 2, SR, np.random.default_rng(0), 2000, 4000)
    f = np.fft.rfftfreq(x.size, 1 / SR)
    power = np.abs(np.fft.rfft(x)) ** 2
    inside = power[(f > 2000) & (f < 4000)].sum()
    assert inside / power.sum() > 0.9


def test_render_is_deterministic_per_clip() -> None:
    plans = plan_dataset(PRESETS["tiny"], seed=0, year=2024)
    again = plan_dataset(PRESETS["tiny"], seed=0, year=2024)
    assert plans == again
    for plan in plans[::40]:
        np.testing.assert_array_equal(render_clip(plan, 1.0), render_clip(plan, 1.0))
    other = plan_dataset(PRESETS["tiny"], seed=1, year=2024)
    assert not np.array_equal(render_clip(plans[0], 1.0), render_clip(other[0], 1.0))


@pytest.mark.parametrize("year", [2020, 2021, 2022, 2023, 2024, 2025, 2026])
@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_plans_are_named_as_the_year_names_them(year: int, preset: str) -> None:
    config = PRESETS[preset]
    plans = plan_dataset(config, seed=0, year=year)
    paths = [p.relative_path for p in plans]
    assert len(set(paths)) == len(paths)
    per_section = (
        config.source_train + 4 * config.test_per_group + (0 if year == 2020 else config.target_train)
    )
    assert len(plans) == per_section * sum(config.sections.values())
    for plan in plans:
        parsed = parse_name(plan.name, year=year)
        assert (parsed.section, parsed.label) == (plan.section, plan.label)
        concealed = is_concealed(MACHINES[plan.kind], year)
        assert concealed == (
            plan.machine in {"bearingEmu", "sliderEmu", "valveEmu"}
            if year == 2026
            else MACHINES[plan.kind].concealed and year >= 2024
        )
        emulated = year == 2026 and plan.kind not in ("fan", "pump")  # 2026 had fan, no pump
        assert plan.machine == (f"{plan.kind}Emu" if emulated else plan.kind)
        assert plan.channels == (2 if year == 2026 else 1)
        assert parsed.no_attribute == concealed
        assert dict(parsed.attributes) == (plan.condition if year >= 2022 and not concealed else {})
        if year == 2020:
            assert plan.domain == "source" and parsed.domain == "none"
        else:
            assert parsed.domain == plan.domain
        folder = plan.relative_path.split("/")[1]
        assert folder == (f"{plan.domain}_test" if year == 2021 and plan.split == "test" else plan.split)
    anomalies = [p for p in plans if p.label == "anomaly"]
    assert {p.fault for p in anomalies} <= {f for spec in MACHINES.values() for f in spec.faults}
    assert all(config.severity[0] <= p.severity <= config.severity[1] for p in anomalies)
    assert all(p.fault is None for p in plans if p.label == "normal")


def test_the_far_microphone_hears_the_machine_later_and_fainter_and_the_room_as_loudly() -> None:
    """record_pair is linear in the machine and its noise does not depend on the machine's sign, so
    recording +m and -m with one seed separates them: half the difference is the machine each
    microphone hears, half the sum the noise."""
    rng = np.random.default_rng(4)
    machine = band_noise(2 * SR, SR, rng, 200, 4000)
    plus, minus = (record_pair(sign * machine, "source", SR, np.random.default_rng(9)) for sign in (1, -1))
    heard, noise = (plus - minus) / 2, (plus + minus) / 2
    np.testing.assert_allclose(heard[0], machine, atol=1e-9)  # the near one: the machine as it is
    lag = int(np.argmax(np.correlate(heard[1], machine[:-200], mode="valid")))
    low, high = (round(m / SPEED_OF_SOUND * SR) for m in FAR_EXTRA_METRES)
    assert low <= lag <= high
    gain_db = 20 * np.log10(np.std(heard[1][lag:]) / np.std(machine[: machine.size - lag]))
    assert -14.0 <= gain_db <= -9.0
    assert np.std(noise[1]) >= 0.95 * np.std(noise[0])  # the room at least as loud at the far one
    shared = max(np.corrcoef(noise[0][: noise.shape[1] - k], noise[1][k:])[0, 1] for k in range(0, lag + 1))
    assert 0.8 < shared < 0.999  # the same room, and noise of each microphone's own


def test_2026_clips_have_a_near_and_a_far_channel() -> None:
    plan = next(p for p in plan_dataset(PRESETS["tiny"], seed=0, year=2026) if p.machine == "bearingEmu")
    wave = render_clip(plan, 1.0)
    assert wave.shape == (SR, 2) and wave.dtype == np.float32 and np.abs(wave).max() <= 0.99
    assert not np.allclose(wave[:, 0], wave[:, 1])
