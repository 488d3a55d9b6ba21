"""models/adapters"""
