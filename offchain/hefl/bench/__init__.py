"""hefl.bench"""
