"""hefl.crypto"""
