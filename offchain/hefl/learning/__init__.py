"""hefl.learning"""
