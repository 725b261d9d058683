"""hefl.costs"""
