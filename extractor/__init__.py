"""The persona extractor: seeker utterances -> first-person persona sentences.

One interface (`PersonaExtractor.extract`) over two real backends: seq2seq (BART family, the
paper's setup) and decoder-only causal LMs (the offline default SmolLM2-135M-Instruct).
"""
from extractor.base import GenerationSettings, PersonaExtractor
from extractor.loading import ExtractorSpec, load_extractor, resolve_extractor

__all__ = ["GenerationSettings", "PersonaExtractor", "load_extractor", "resolve_extractor", "ExtractorSpec"]
