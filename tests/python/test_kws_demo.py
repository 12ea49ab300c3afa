"""The speech demo (examples/kws_demo.py, docs/speech-demo.md): a tiny configuration end to end (espeak-ng ->
log-mel -> conv + GRU -> stage 1 -> QAT -> export -> C++ runtime, whole and streamed), and its data pieces
checked against independent computations."""
import os
import shutil
import sys

import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "examples"))

pytest.importorskip("torchaudio", reason="python3-torchaudio is not installed (Debian package)")
pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                reason="espeak-ng is not installed (Debian package espeak-ng)")

import kws_data as kd  # noqa: E402


def test_tiny_demo_is_bit_exact_and_streams_like_the_whole_utterance(tmp_path, capsys):
    import kws_demo

    res = kws_demo.main([
        "--keywords", "3", "--accents", "2", "--train-variants", "3", "--test-variants", "2",
        "--keyword-takes", "1", "--unknown-takes", "2", "--epochs", "1", "--stage1-epochs", "1",
        "--qat-epochs", "1", "--channels", "16", "--hidden", "16", "--chunk-frames", "20",
        "--data-root", str(tmp_path / "data"), "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    # 2 accents x 2 test variants x (3 keywords + 2 unknown words) + 1 noise-only example
    assert res["n_test"] == 2 * 2 * 5 + 1
    assert res["exact"] == 100.0
    assert res["streaming_same"] == 100.0
    assert "utterances bit-exact runtime vs PyTorch eval" in out and "100.00%" in out
    assert os.path.isfile(tmp_path / "out" / "kws_int8.onnx")
    # the second run reads the cache
    cfg = kd.KwsConfig(keywords=kd.KEYWORDS[:3], accents=kd.ACCENTS[:2], train_variants=kd.TRAIN_VARIANTS[:3],
                       test_variants=kd.TEST_VARIANTS[:2], keyword_takes=1, unknown_takes=2)
    assert os.path.isfile(tmp_path / "data" / cfg.key() / "clips.npz")
    clips, info = kd.load_or_synthesize(cfg, str(tmp_path / "data"), progress=False)
    assert info["cached"] == 1.0 and len(clips.lengths) == 2 * 5 * 5


def test_split_is_by_voice_and_the_plan_is_seeded():
    cfg = kd.KwsConfig()
    plan = kd.synthesis_plan(cfg)
    train_variants = {v.split("+")[1] for v, t, _ in plan if not t}
    test_variants = {v.split("+")[1] for v, t, _ in plan if t}
    assert train_variants == set(kd.TRAIN_VARIANTS) and test_variants == set(kd.TEST_VARIANTS)
    assert not train_variants & test_variants
    assert len(plan) == len(kd.ACCENTS) * (len(kd.TRAIN_VARIANTS) + len(kd.TEST_VARIANTS))
    assert plan == kd.synthesis_plan(cfg)
    assert plan != kd.synthesis_plan(kd.KwsConfig(seed=1))
    utts = [u for _, _, us in plan for u in us]
    assert all(70 <= r <= 140 and -30 <= p <= 30 for _, r, p, _ in utts)
    with pytest.raises(ValueError, match="both train and test voices"):
        kd.check_voices(kd.KwsConfig(train_variants=("m1", "m2"), test_variants=("m2",)))
    with pytest.raises(RuntimeError, match="no voice variant"):
        kd.check_voices(kd.KwsConfig(train_variants=("m1", "no-such-variant")))


def test_one_espeak_call_per_voice_gives_one_clip_per_word_deterministically():
    item = ("en-us+m1", False, [("yes", 100, 0, 0), ("stop", 80, 10, 8), ("eight", 130, -20, 10)])
    pieces, rate, alone = kd._synthesize_voice(item)
    again, _, _ = kd._synthesize_voice(item)
    assert rate == 22050 and alone == 0 and len(pieces) == 3
    assert all(np.array_equal(a, b) for a, b in zip(pieces, again))
    # each piece is about as long as the word synthesized alone with the same prosody
    for u, p in zip(item[2], pieces):
        y, _ = kd._espeak("en-us+m1", kd._ssml([u], kd.GAP_MS))
        alone_len = len(kd.trim(y, rate))
        assert 0.6 < len(p) / alone_len < 1.4, (u, len(p), alone_len)


def test_split_on_gaps_cuts_at_long_quiet_runs_only():
    rate = 1000
    x = np.zeros(3000, np.int16)
    x[100:300] = 1000    # word 1
    x[350:400] = 800     # word 1 after a 50-sample closure (shorter than the gap)
    x[1000:1200] = -900  # word 2
    x[2500:2600] = 500   # word 3
    pieces = kd.split_on_gaps(x, rate, min_gap_s=0.3, margin_s=0.01)
    assert [len(p) for p in pieces] == [300 + 20, 200 + 20, 100 + 20]
    assert np.array_equal(pieces[1], x[990:1210])
    assert kd.split_on_gaps(np.zeros(100, np.int16), rate, 0.3) == []
    assert np.array_equal(kd.trim(x, rate, margin_s=0.0), x[100:2600])


def test_pink_noise_has_a_one_over_f_spectrum():
    rng = np.random.default_rng(0)
    n = 16000
    psd = np.zeros(n // 2 + 1)
    for _ in range(40):
        psd += np.abs(np.fft.rfft(kd.pink_noise(rng, n))) ** 2
    f = np.arange(n // 2 + 1)
    sel = (f >= 10) & (f <= 5000)
    slope = np.polyfit(np.log(f[sel]), np.log(psd[sel]), 1)[0]
    assert -1.05 < slope < -0.95
    w = np.abs(np.fft.rfft(kd.white_noise(rng, n))) ** 2
    assert abs(np.polyfit(np.log(f[sel]), np.log(w[sel]), 1)[0]) < 0.05


def _clips_from(waves, labels, is_test):
    lengths = np.array([len(w) for w in waves])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return kd.Clips(np.concatenate(waves).astype(np.int16), offsets, lengths, np.array(labels),
                    np.array(is_test, dtype=bool))


def test_mixer_shifts_scales_and_adds_noise_at_the_drawn_snr():
    t = np.arange(4000) / 16000
    tone = (10000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    other = (8000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    clips = _clips_from([tone, other, other], [0, 1, 1], [False, False, True])
    mix = kd.MixConfig(snr_db=(20.0, 20.0), peak=(0.5, 0.5))
    mixer = kd.Mixer(clips, test=False, unknown_label=1, mix=mix)
    assert list(mixer.babble_pool) == [1]  # the training split's unknown clips only
    for seed in range(6):
        y = mixer.example(0, np.random.default_rng(seed))
        assert y.shape == (16000,) and y.dtype == np.float32
        # find the shift by correlation with the clean tone, then compare the residual's power with the tone's
        s = tone.astype(np.float64) / 32768.0
        s *= 0.5 / np.abs(s).max()
        corr = np.correlate(y.astype(np.float64), s, "valid")
        o = int(np.argmax(corr))
        noise = y.astype(np.float64).copy()
        noise[o:o + len(s)] -= s
        snr = 10 * np.log10(np.mean(s * s) / np.mean(noise * noise))
        assert abs(snr - 20.0) < 0.5, (seed, snr)
    silent = mixer.example(-1, np.random.default_rng(0))
    rms = np.sqrt(np.mean(silent.astype(np.float64) ** 2))
    assert mix.noise_rms[0] * 0.99 <= rms <= mix.noise_rms[1] * 1.01


def _htk_mel(f):
    return 2595.0 * np.log10(1.0 + f / 700.0)


def test_log_mel_matches_a_numpy_computation_of_the_documented_parameters():
    rng = np.random.default_rng(0)
    wav = (rng.standard_normal((2, 16000)) * 0.1).astype(np.float32)
    wav[1] *= np.sin(np.arange(16000) / 300.0).astype(np.float32)
    feats = kd.LogMel()
    got = feats(wav).numpy()
    assert got.shape == (2, 40, 98)
    # independent: periodic Hann 400, hop 160, no padding, |rfft|^2, HTK triangles 20..8000 Hz, log(+1e-6)
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    frames = np.stack([wav[:, i * 160:i * 160 + 400] for i in range(98)], 1).astype(np.float64) * win
    power = np.abs(np.fft.rfft(frames, axis=2)) ** 2                       # [2, 98, 201]
    freqs = np.linspace(0, 8000, 201)
    pts = 700.0 * (10 ** (np.linspace(_htk_mel(20.0), _htk_mel(8000.0), 42) / 2595.0) - 1.0)
    fb = np.zeros((201, 40))
    for m in range(40):
        lo, c, hi = pts[m], pts[m + 1], pts[m + 2]
        fb[:, m] = np.maximum(0, np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)))
    want = np.log(power @ fb + 1e-6).transpose(0, 2, 1)
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-3)
    # standardization with the fitted per-band statistics
    feats.fit(wav)
    z = feats(wav).numpy()
    np.testing.assert_allclose(z.mean(axis=(0, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(axis=(0, 2), ddof=1), 1, atol=1e-3)
    assert torch.is_tensor(feats(wav))
