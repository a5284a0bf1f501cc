import pathlib
import sys

# the plain-Python reference models live next to the tests
sys.path.insert(0, str(pathlib.Path(__file__).parent))
