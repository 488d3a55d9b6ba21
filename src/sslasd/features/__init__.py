"""Feature front ends on batch tensors: Kaldi-compatible log mel filter bank and SpecAugment.

Tensors in, tensors out: nothing here opens a file.
"""

from sslasd.features.fbank import WINDOWS, Fbank, FbankConfig, fbank, mel_filters
from sslasd.features.specaugment import SpecAugment

__all__ = ["WINDOWS", "Fbank", "FbankConfig", "SpecAugment", "fbank", "mel_filters"]
