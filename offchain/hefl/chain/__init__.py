"""hefl.chain"""
