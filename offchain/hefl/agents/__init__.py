"""hefl.agents"""
