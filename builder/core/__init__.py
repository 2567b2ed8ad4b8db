"""builder/core"""
