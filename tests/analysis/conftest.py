import sys
from pathlib import Path

# analysis_data and dist_worker (tests run in importlib mode); appended, so that `conftest`
# still names tests/conftest.py
sys.path.append(str(Path(__file__).parent))
