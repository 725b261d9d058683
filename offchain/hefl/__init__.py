"""hefl: privacy-preserving distributed learning on Paillier ciphertexts, recorded on Ethereum."""

__version__ = "0.1.0"
