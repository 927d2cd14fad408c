"""Nicknames and the formal first names they stand for, so that Bob in one system matches Robert.

Each group is a formal name followed by the short forms people commonly use for it (English, plus a
few German and French ones for the countries the platform serves). A name that belongs to several
groups (Chris: Christopher or Christine) keeps the first group it appears in; the probabilistic model
scores a nickname agreement below an exact one, so such a collision only weakens the evidence.
"""

from __future__ import annotations

from functools import lru_cache

NICKNAME_GROUPS: tuple[tuple[str, ...], ...] = (
    ("robert", "bob", "rob", "bobby", "robbie", "bert"),
    ("william", "bill", "will", "billy", "willy", "liam"),
    ("richard", "rick", "rich", "dick", "ricky", "richie"),
    ("james", "jim", "jimmy", "jamie", "jimmie"),
    ("michael", "mike", "mikey", "mick", "mickey"),
    ("christopher", "chris", "kit", "topher"),
    ("thomas", "tom", "tommy"),
    ("joseph", "joe", "joey", "jo"),
    ("daniel", "dan", "danny"),
    ("matthew", "matt", "matty"),
    ("anthony", "tony", "ant"),
    ("steven", "steve", "stevie", "stephen"),
    ("andrew", "andy", "drew"),
    ("edward", "ed", "eddie", "ted", "teddy", "ned"),
    ("charles", "charlie", "chuck", "chas"),
    ("alexander", "alex", "al", "xander", "sasha"),
    ("benjamin", "ben", "benny", "benji"),
    ("nicholas", "nick", "nicky", "nico"),
    ("samuel", "sam", "sammy"),
    ("timothy", "tim", "timmy"),
    ("jonathan", "jon", "jonny"),
    ("john", "jack", "johnny"),
    ("david", "dave", "davey"),
    ("gregory", "greg"),
    ("jeffrey", "jeff"),
    ("kenneth", "ken", "kenny"),
    ("ronald", "ron", "ronnie"),
    ("donald", "don", "donnie"),
    ("lawrence", "larry"),
    ("patrick", "pat", "paddy"),
    ("peter", "pete"),
    ("raymond", "ray"),
    ("frederick", "fred", "freddie"),
    ("gerald", "gerry", "jerry"),
    ("joshua", "josh"),
    ("zachary", "zach", "zack"),
    ("nathaniel", "nathan", "nate"),
    ("johannes", "hans"),
    ("wolfgang", "wolf"),
    ("elizabeth", "liz", "beth", "betty", "lizzie", "eliza", "betsy", "libby"),
    ("katherine", "kate", "katie", "kathy", "kat", "kitty", "catherine", "kathryn"),
    ("margaret", "maggie", "peggy", "meg", "marge", "greta"),
    ("jennifer", "jen", "jenny", "jenn"),
    ("patricia", "patty", "trish", "tricia", "patsy"),
    ("susan", "sue", "susie", "suzy"),
    ("rebecca", "becky", "becca"),
    ("jessica", "jess", "jessie"),
    ("victoria", "vicky", "tori", "vic"),
    ("deborah", "debbie", "deb", "debra"),
    ("kimberly", "kim", "kimmy"),
    ("jacqueline", "jackie", "jacqui"),
    ("christine", "chrissy", "tina", "christina"),
    ("alexandra", "lexi", "sandra"),
    ("samantha", "sammie"),
    ("abigail", "abby", "abbie", "gail"),
    ("barbara", "barb", "babs"),
    ("cynthia", "cindy"),
    ("dorothy", "dot", "dottie"),
    ("jane", "janie"),
    ("judith", "judy"),
    ("pamela", "pam"),
    ("stephanie", "steph"),
    ("theresa", "terry", "tess", "tessa"),
    ("valerie", "val"),
    ("amanda", "mandy", "manda"),
    ("melissa", "mel", "missy"),
    ("nancy", "nan"),
    ("dorothea", "thea"),
)


def _build() -> dict[str, str]:
    canonical: dict[str, str] = {}
    for group in NICKNAME_GROUPS:
        formal = group[0]
        for name in group:
            canonical.setdefault(name, formal)
    return canonical


CANONICAL_FIRST_NAME: dict[str, str] = _build()


@lru_cache(maxsize=100_000)
def canonical_first_name(name: str) -> str:
    """The formal name a normalized first name stands for, or the name itself."""
    return CANONICAL_FIRST_NAME.get(name, name)
