"""models/heads"""
