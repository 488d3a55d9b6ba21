"""Feature front ends on batch tensors: Kaldi-compatible log mel filter bank, SpecAugment, and the
waveform gain/shift that makes a second training view.

Tensors in, tensors out: nothing here opens a file.
"""

from sslasd.features.fbank import WINDOWS, Fbank, FbankConfig, fbank, mel_filters
from sslasd.features.specaugment import SpecAugment
from sslasd.features.waveviews import random_gain_shift

__all__ = ["WINDOWS", "Fbank", "FbankConfig", "SpecAugment", "fbank", "mel_filters", "random_gain_shift"]
