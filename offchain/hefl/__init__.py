"""hefl: privacy-preserving distributed learning on a Paillier-encrypted model, recorded on Ethereum."""

__version__ = "0.1.0"
