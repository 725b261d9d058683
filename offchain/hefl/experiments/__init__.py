"""hefl.experiments"""
