"""Identity resolution as a plain library: polars records in, one client id per record out.

``resolve(records, config=None, previous=None)`` is the contract (see its docstring);
``evaluate(mapping, truth)`` grades a mapping against known persons; ``summarize(resolution)`` turns
a resolution into metadata.
"""

from cdp_platform.identity.config import ProbabilisticConfig, ResolutionConfig
from cdp_platform.identity.evaluate import evaluate
from cdp_platform.identity.resolve import Resolution, resolve
from cdp_platform.identity.summary import summarize

__all__ = ["ProbabilisticConfig", "Resolution", "ResolutionConfig", "evaluate", "resolve", "summarize"]
