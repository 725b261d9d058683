"""hefl.data"""
