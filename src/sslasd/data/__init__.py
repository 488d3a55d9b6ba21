"""The data layer: DCASE names, data-set index, ground truth, audio loading, channel policies,
caching, torch Dataset."""

from __future__ import annotations

from sslasd.data.attributes import AttributeRow, read_attributes_csv, write_attributes_csv
from sslasd.data.audio import AudioInfo, AudioStream, check_audio_file, load_audio
from sslasd.data.cache import AudioCache
from sslasd.data.channels import CHANNEL_POLICIES, ChannelPolicy
from sslasd.data.clip import NO_ATTRIBUTE, Clip
from sslasd.data.crop import crop_or_pad, split_windows, stream_windows
from sslasd.data.dataset import ClipDataset, collate_clips
from sslasd.data.ground_truth import GroundTruth, apply_ground_truth, read_ground_truth
from sslasd.data.index import DatasetIndex, SkippedFile, index_dataset
from sslasd.data.names import ParsedName, detect_year, format_name, parse_name, split_attribute_string
from sslasd.data.noise import SUPPLEMENTAL_FOLDER, NoiseMixer, noise_owners
from sslasd.data.resample import resample
from sslasd.data.subtraction import subtract_far
from sslasd.data.years import YEARS, clip_seconds, year_channels

__all__ = [
    "CHANNEL_POLICIES",
    "NO_ATTRIBUTE",
    "SUPPLEMENTAL_FOLDER",
    "YEARS",
    "AttributeRow",
    "AudioCache",
    "AudioInfo",
    "AudioStream",
    "ChannelPolicy",
    "Clip",
    "ClipDataset",
    "DatasetIndex",
    "GroundTruth",
    "NoiseMixer",
    "ParsedName",
    "SkippedFile",
    "apply_ground_truth",
    "check_audio_file",
    "clip_seconds",
    "collate_clips",
    "crop_or_pad",
    "detect_year",
    "format_name",
    "index_dataset",
    "load_audio",
    "noise_owners",
    "parse_name",
    "read_attributes_csv",
    "read_ground_truth",
    "resample",
    "split_attribute_string",
    "split_windows",
    "stream_windows",
    "subtract_far",
    "write_attributes_csv",
    "year_channels",
]
