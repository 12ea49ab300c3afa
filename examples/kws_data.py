"""Keyword-spotting data synthesized on the fly with espeak-ng (docs/speech-demo.md).

Three parts:

* `load_or_synthesize(cfg)`: the words of each voice are synthesized by one `espeak-ng` call (SSML input: each
  word in its own `<prosody rate pitch>`, 600 ms breaks between them; 22,050 Hz WAV on stdout; two processes at
  a time), cut at the breaks, trimmed and resampled to 16 kHz (`torchaudio.functional.resample`). The clips are
  cached under `data/kws/<hash of the configuration>/clips.npz`; the same configuration gives the same clips
  (espeak-ng is deterministic, the rates and pitches are seeded draws).
* `Mixer`: turns a clip into a 1 s, 16 kHz training or test example: random gain, random time shift, and
  background noise at a random SNR (white, pink, or babble made of other words from the same split);
  "silence" examples are noise only. Seeded.
* `LogMel`: 40 log-mel energies, 25 ms window, 10 ms hop, no centre padding (98 frames per second),
  computed with `torchaudio.transforms.MelSpectrogram`.

The train/test split is by voice: a voice is an espeak-ng language (accent) plus a voice variant, and the test
variants are never used in training, with any accent.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import time
import wave
from dataclasses import asdict, dataclass, field
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

SAMPLE_RATE = 16000
CLIP_SAMPLES = SAMPLE_RATE  # 1 s examples

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
UNKNOWN_WORDS = ("bed", "bird", "cat", "dog", "eight", "five", "four", "happy", "house", "marvin", "nine", "one",
                 "seven", "sheila", "six", "three", "tree", "two", "wow", "zero", "learn", "follow", "forward",
                 "backward", "visual", "yellow", "window", "apple", "water", "music")
UNKNOWN = "_unknown_"  # other words, and noise / silence without speech

# espeak-ng languages used as accents (all built in, no mbrola voices needed)
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029",
           "en-us-nyc")
# espeak-ng voice variants (voices/!v); the two lists are disjoint: the test voices are never heard in training
TRAIN_VARIANTS = ("m1", "m2", "m4", "m5", "m6", "m8", "f1", "f3", "f4", "klatt", "klatt2", "klatt3", "klatt5",
                  "klatt6", "Alex", "Alicia", "Andrea", "Denis", "Gene", "Hugo", "Jacky", "Lee", "Marco", "Michael",
                  "Mike", "adam", "anika", "announcer", "aunty", "benjamin", "boris", "caleb", "david", "ed",
                  "edward", "grandma", "grandpa", "iven", "linda", "max", "norbert", "paul", "quincy", "rob",
                  "robert", "steph", "travis", "victor", "zac")
TEST_VARIANTS = ("m3", "m7", "f2", "f5", "klatt4", "Andy", "Annie", "belinda", "john", "steph2")


@dataclass(frozen=True)
class KwsConfig:
    """Everything that determines the synthesized clips (its hash names the cache folder)."""
    keywords: Tuple[str, ...] = KEYWORDS
    unknown_words: Tuple[str, ...] = UNKNOWN_WORDS
    accents: Tuple[str, ...] = ACCENTS
    train_variants: Tuple[str, ...] = TRAIN_VARIANTS
    test_variants: Tuple[str, ...] = TEST_VARIANTS
    keyword_takes: int = 2          # utterances of each keyword per voice (each at its own rate and pitch)
    unknown_takes: int = 4          # utterances of random unknown words per voice
    rate_pct: Tuple[int, int] = (70, 140)     # SSML prosody rate, % of the voice's own (175 words/min), uniform
    pitch_pct: Tuple[int, int] = (-30, 30)    # SSML prosody pitch, % change of the voice's own, uniform
    seed: int = 0

    @property
    def classes(self) -> Tuple[str, ...]:
        return tuple(self.keywords) + (UNKNOWN,)

    def key(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True) + f"|{GAP_MS}|{MIN_GAP_S}|v1"
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class Clips:
    """Synthesized, trimmed 16 kHz clips: clip i is samples[offsets[i]:offsets[i] + lengths[i]] (int16)."""
    samples: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray      # class index (cfg.classes)
    is_test: np.ndarray     # bool: from a test voice
    words: List[str] = field(default_factory=list)
    voices: List[str] = field(default_factory=list)

    def clip(self, i: int) -> np.ndarray:
        o = int(self.offsets[i])
        return self.samples[o:o + int(self.lengths[i])].astype(np.float32) / 32768.0


def espeak_data_dir() -> str:
    try:
        out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout
    except FileNotFoundError as e:
        raise RuntimeError("kws_data: the espeak-ng program is missing; install the Debian package espeak-ng") from e
    if "Data at:" not in out:
        raise RuntimeError(f"kws_data: cannot read espeak-ng's data folder from `espeak-ng --version`: {out!r}")
    return out.split("Data at:")[1].strip()


def check_voices(cfg: KwsConfig) -> None:
    """espeak-ng silently falls back to its default voice for an unknown variant: check they all exist."""
    vdir = os.path.join(espeak_data_dir(), "voices", "!v")
    missing = [v for v in cfg.train_variants + cfg.test_variants if not os.path.isfile(os.path.join(vdir, v))]
    if missing:
        raise RuntimeError(f"kws_data: espeak-ng has no voice variant {missing} in {vdir}")
    overlap = set(cfg.train_variants) & set(cfg.test_variants)
    if overlap:
        raise ValueError(f"kws_data: variants {sorted(overlap)} are both train and test voices; the split is by voice")


Utt = Tuple[str, int, int, int]  # (word, rate %, pitch %, label)


def synthesis_plan(cfg: KwsConfig) -> List[Tuple[str, bool, List[Utt]]]:
    """(voice, is_test, utterances) per voice, in a fixed order; the words' rates and pitches are seeded draws."""
    rng = np.random.default_rng(cfg.seed)
    unk = len(cfg.keywords)
    plan = []
    for is_test, variants in ((False, cfg.train_variants), (True, cfg.test_variants)):
        for accent in cfg.accents:
            for variant in variants:
                words = [(w, k) for k, w in enumerate(cfg.keywords) for _ in range(cfg.keyword_takes)]
                words += [(cfg.unknown_words[int(rng.integers(len(cfg.unknown_words)))], unk)
                          for _ in range(cfg.unknown_takes)]
                utts = [(w, int(rng.integers(cfg.rate_pct[0], cfg.rate_pct[1] + 1)),
                         int(rng.integers(cfg.pitch_pct[0], cfg.pitch_pct[1] + 1)), label) for w, label in words]
                plan.append((f"{accent}+{variant}", is_test, utts))
    return plan


def _ssml(utts: Sequence[Utt], gap_ms: int) -> str:
    parts = [f'<prosody rate="{r}%" pitch="{p:+d}%">{w}</prosody>' for w, r, p, _ in utts]
    return "<speak>" + f'<break time="{gap_ms}ms"/>'.join(parts) + "</speak>"


def _espeak(voice: str, ssml: str) -> Tuple[np.ndarray, int]:
    """One espeak-ng process (SSML input, WAV on stdout): its int16 samples and their rate."""
    cmd = ["espeak-ng", "-m", "-v", voice, "--stdout", ssml]
    res = subprocess.run(cmd, capture_output=True, check=False)
    if res.returncode != 0 or len(res.stdout) <= 44:
        raise RuntimeError(f"kws_data: `{' '.join(cmd)}` failed: {res.stderr.decode(errors='replace')}")
    with wave.open(io.BytesIO(res.stdout)) as w:
        rate = w.getframerate()
        if w.getsampwidth() != 2 or w.getnchannels() != 1 or res.stdout[36:40] != b"data":
            raise RuntimeError(f"kws_data: espeak-ng wrote a WAV that is not 16-bit mono with a 44-byte header ({cmd})")
    # espeak-ng --stdout cannot seek back to fill in the header's length fields: the data runs to the end
    return np.frombuffer(res.stdout[44:], dtype=np.int16).copy(), rate


def trim(x: np.ndarray, rate: int, rel: float = 0.02, margin_s: float = 0.01) -> np.ndarray:
    """Drops leading/trailing samples quieter than rel * peak, keeping margin_s of them."""
    a = np.abs(x.astype(np.float32))
    loud = np.nonzero(a > rel * max(float(a.max()), 1.0))[0]
    if len(loud) == 0:
        return x[:0]
    m = int(margin_s * rate)
    return x[max(0, loud[0] - m):loud[-1] + m + 1]


def split_on_gaps(x: np.ndarray, rate: int, min_gap_s: float, rel: float = 0.02,
                  margin_s: float = 0.01) -> List[np.ndarray]:
    """Cuts a recording of words separated by pauses at every quiet run longer than min_gap_s (quiet: below
    rel * peak); each piece keeps margin_s of quiet on both sides."""
    a = np.abs(x.astype(np.float32))
    loud = np.nonzero(a > rel * max(float(a.max()), 1.0))[0]
    if len(loud) == 0:
        return []
    cuts = np.nonzero(np.diff(loud) > min_gap_s * rate)[0]
    starts = np.concatenate([[loud[0]], loud[cuts + 1]])
    ends = np.concatenate([loud[cuts], [loud[-1]]])
    m = int(margin_s * rate)
    return [x[max(0, s - m):e + m + 1] for s, e in zip(starts, ends)]


GAP_MS = 600  # pause written between the words of one espeak-ng call
MIN_GAP_S = 0.3  # a quiet run this long separates two words (the longest in-word closure is far shorter)


def _synthesize_voice(item: Tuple[str, bool, List[Utt]]) -> Tuple[List[np.ndarray], int, int]:
    """All words of one voice: one espeak-ng call with pauses between the words, cut at the pauses. If the cut
    does not give one piece per word (1 voice of the 472 by default), each word is synthesized
    alone. Returns (int16 clips, sample rate, number of words synthesized alone)."""
    voice, _, utts = item
    x, rate = _espeak(voice, _ssml(utts, GAP_MS))
    pieces = split_on_gaps(x, rate, MIN_GAP_S)
    if len(pieces) == len(utts):
        return pieces, rate, 0
    pieces = []
    for u in utts:
        y, rate = _espeak(voice, _ssml([u], GAP_MS))
        pieces.append(trim(y, rate))
    return pieces, rate, len(utts)


def _cache_dir(cfg: KwsConfig, root: Optional[str]) -> str:
    root = root or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "kws")
    return os.path.join(root, cfg.key())


def load_or_synthesize(cfg: KwsConfig, root: Optional[str] = None, workers: int = 2,
                       progress: bool = True) -> Tuple[Clips, Dict[str, float]]:
    """The clips of `cfg`, from the cache (`root`/<cfg.key()>/clips.npz, root defaulting to data/kws in the
    checkout) or synthesized with `workers` espeak-ng processes at a time, then cached. Returns (clips, info):
    info["cached"] 1.0 or 0.0, info["seconds"], info["alone"] (words synthesized one by one)."""
    import torchaudio.functional as AF

    t0 = time.perf_counter()
    path = os.path.join(_cache_dir(cfg, root), "clips.npz")
    plan = synthesis_plan(cfg)
    words = [u[0] for _, _, utts in plan for u in utts]
    voices = [v for v, _, utts in plan for _ in utts]
    labels = np.array([u[3] for _, _, utts in plan for u in utts], dtype=np.int64)
    is_test = np.array([t for _, t, utts in plan for _ in utts], dtype=bool)
    if os.path.isfile(path):
        z = np.load(path)
        if len(z["lengths"]) != len(words):
            raise RuntimeError(f"kws_data: the cache {path} does not match its configuration; delete it")
        clips = Clips(z["samples"], z["offsets"], z["lengths"], labels, is_test, words, voices)
        return clips, {"cached": 1.0, "seconds": time.perf_counter() - t0, "alone": 0.0}
    check_voices(cfg)
    out: List[np.ndarray] = []
    alone = 0
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(words), desc="  espeak-ng", unit="utt", mininterval=2.0)
    # `workers` espeak-ng processes at a time: the threads only wait for them and cut their WAV output
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for (voice, _, utts), (pieces, rate, n_alone) in zip(plan, pool.map(_synthesize_voice, plan)):
            alone += n_alone
            for u, x in zip(utts, pieces):
                if len(x) == 0:
                    raise RuntimeError(f"kws_data: espeak-ng produced silence for {u[0]!r} with voice {voice}")
                y = AF.resample(torch.from_numpy(x.astype(np.float32)), rate, SAMPLE_RATE)
                out.append(np.clip(np.round(y.numpy()), -32768, 32767).astype(np.int16))
            if bar is not None:
                bar.update(len(utts))
    if bar is not None:
        bar.close()
    lengths = np.array([len(c) for c in out], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    clips = Clips(np.concatenate(out), offsets, lengths, labels, is_test, words, voices)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}.npz"
    np.savez(tmp, samples=clips.samples, offsets=clips.offsets, lengths=clips.lengths)
    os.replace(tmp, path)
    with open(os.path.join(os.path.dirname(path), "config.json"), "w") as fh:
        json.dump(asdict(cfg), fh, indent=1)
    return clips, {"cached": 0.0, "seconds": time.perf_counter() - t0, "alone": float(alone)}


# ---- mixing: shift, gain, noise --------------------------------------------------------------------------

@dataclass(frozen=True)
class MixConfig:
    snr_db: Tuple[float, float] = (10.0, 30.0)      # speech-to-noise ratio (dB), uniform
    peak: Tuple[float, float] = (0.05, 0.8)         # speech peak amplitude (full scale 1.0), log-uniform
    noise_rms: Tuple[float, float] = (1e-4, 0.05)   # noise-only ("silence") examples, log-uniform
    babble_words: int = 3


def white_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.standard_normal(n).astype(np.float32)


def pink_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """1/f power spectrum: white noise shaped by 1/sqrt(f) in the frequency domain (DC removed)."""
    spec = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    f = np.arange(n // 2 + 1, dtype=np.float64)
    f[0] = 1.0
    spec /= np.sqrt(f)
    spec[0] = 0.0
    return np.fft.irfft(spec, n).astype(np.float32)


class Mixer:
    """Makes 1 s examples from clips of one split (babble uses that split's unknown-word clips only)."""

    def __init__(self, clips: Clips, test: bool, unknown_label: int, mix: MixConfig = MixConfig()) -> None:
        self.clips = clips
        self.mix = mix
        sel = clips.is_test == test
        self.babble_pool = np.nonzero(sel & (clips.labels == unknown_label))[0]
        if len(self.babble_pool) == 0:
            raise ValueError("kws_data: the split has no unknown-word clips to make babble noise from")

    def _babble(self, rng: np.random.Generator, n: int) -> np.ndarray:
        out = np.zeros(n, np.float32)
        for _ in range(self.mix.babble_words):
            c = self.clips.clip(int(self.babble_pool[rng.integers(len(self.babble_pool))]))[:n]
            o = int(rng.integers(0, n - len(c) + 1))
            out[o:o + len(c)] += c / (np.abs(c).max() + 1e-9)
        return out

    def _noise(self, rng: np.random.Generator, n: int) -> np.ndarray:
        kind = int(rng.integers(3))
        x = white_noise(rng, n) if kind == 0 else pink_noise(rng, n) if kind == 1 else self._babble(rng, n)
        return x / (np.sqrt(np.mean(x * x)) + 1e-12)

    def example(self, clip_index: int, rng: np.random.Generator) -> np.ndarray:
        """clip_index >= 0: that clip, shifted, scaled, plus noise; -1: noise only (silence)."""
        n = CLIP_SAMPLES
        m = self.mix
        if clip_index < 0:
            rms = float(np.exp(rng.uniform(np.log(m.noise_rms[0]), np.log(m.noise_rms[1]))))
            return (self._noise(rng, n) * rms).astype(np.float32)
        s = self.clips.clip(clip_index)
        if len(s) > n:  # a long, slow utterance: a random 1 s window
            o = int(rng.integers(0, len(s) - n + 1))
            s = s[o:o + n]
        s = s * (float(np.exp(rng.uniform(np.log(m.peak[0]), np.log(m.peak[1])))) / (np.abs(s).max() + 1e-9))
        out = np.zeros(n, np.float32)
        o = int(rng.integers(0, n - len(s) + 1))  # time shift
        out[o:o + len(s)] = s
        snr = rng.uniform(*m.snr_db)
        speech_rms = float(np.sqrt(np.mean(s * s)))
        out += self._noise(rng, n) * speech_rms * 10.0 ** (-snr / 20.0)
        return out

    def batch(self, items: Sequence[int], rng: np.random.Generator) -> np.ndarray:
        return np.stack([self.example(int(i), rng) for i in items])


# ---- features ---------------------------------------------------------------------------------------------

class LogMel:
    """log(mel power + 1e-6), 40 mel bands (HTK scale, 20 Hz..8 kHz), 25 ms Hann window, 10 ms hop, 400-point
    FFT, no centre padding: [B, 16000] -> [B, 40, 98]; then per-band standardization with the training set's
    mean/std (fit()), which is causal and so works on a stream."""

    def __init__(self, n_mels: int = 40) -> None:
        import torchaudio

        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=SAMPLE_RATE, n_fft=400, win_length=400, hop_length=160, f_min=20.0, f_max=8000.0,
            n_mels=n_mels, power=2.0, center=False, mel_scale="htk")
        self.mean = torch.zeros(n_mels, 1)
        self.std = torch.ones(n_mels, 1)

    def raw(self, wav: np.ndarray) -> torch.Tensor:
        with torch.no_grad():
            return torch.log(self.mel(torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))) + 1e-6)

    def fit(self, wav: np.ndarray) -> None:
        f = self.raw(wav)
        self.mean = f.mean(dim=(0, 2)).unsqueeze(1)
        self.std = f.std(dim=(0, 2)).unsqueeze(1).clamp_min(1e-3)

    def __call__(self, wav: np.ndarray) -> torch.Tensor:
        return (self.raw(wav) - self.mean) / self.std
