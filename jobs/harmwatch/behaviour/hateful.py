"""The hateful templates of the behaviour suite, written by hand for harmwatch, by functionality.

``{people}`` / ``{People}`` is filled with every group (capitalised at the start of a sentence);
``{slur}`` / ``{Slur}`` with each group's slur (:data:`harmwatch.behaviour.groups.SLURS`). The six
spelling functionalities perturb the same four sentences (the first of each group below), so a drop
from one spelling to another is the perturbation's doing, not the sentence's; the group term is left
intact, except in ``spelling_removed_spaces`` where the whole post, group included, loses its spaces.
"""

from __future__ import annotations

HATEFUL: dict[str, tuple[str, ...]] = {
    "derogation_emotion": (
        "I can't stand {people}, they make me sick to my stomach",
        "Honestly {people} fill me with nothing but disgust",
        "Every time I see {people} on the bus I feel pure hatred",
        "I despise {people} more than anything in this world",
        "{People} make my blood boil, I loathe every last one of them",
        "Nothing repulses me more than {people} walking around like they own the place",
        "My hatred for {people} grows stronger every single day",
    ),
    "derogation_attributes": (
        "{People} are lazy parasites who never contribute anything",
        "{People} are all thieves, you can't trust a single one",
        "{People} are too stupid to run their own lives, let alone anything else",
        "{People} are dirty and spread disease wherever they go",
        "{People} are born liars and cheats",
        "{People} are violent by nature and always will be",
        "Every one of those {people} is a brainless leech on society",
    ),
    "derogation_dehumanising": (
        "{People} are vermin crawling all over our streets",
        "{People} are not human, they are beasts",
        "{People} are a disease and this country is the patient",
        "{People} are rats breeding in the sewers of our cities",
        "{People} are cockroaches, get rid of some and more come back",
        "{People} are subhuman filth",
        "Treat {people} like the livestock they are",
    ),
    "derogation_implicit": (
        "I'd rather live next door to a criminal than next door to {people}",
        "Funny how the neighbourhood went downhill the year those {people} moved in",
        "Check your wallet whenever {people} are around, just saying",
        "Our street was a nice place to live before those {people} showed up",
        "Giving {people} the same rights as us was the first mistake",
        "Never hire {people} if you want your business to survive",
        "Keep {people} away from our schools and our children",
    ),
    "threat": (
        "I am going to hunt down every one of those {people} I can find",
        "{People} should be lined up against a wall and shot",
        "If {people} show up at our meeting again they will leave in ambulances",
        "We will burn down the houses of {people} one by one",
        "Somebody needs to put a bullet in every one of those {people}",
        "{People} deserve to be beaten bloody and I'll happily do it",
        "Time to get rid of {people} for good, grab your weapons",
    ),
    "slur": (
        "There are way too many {slur} in this neighbourhood now",
        "{Slur} are ruining this town",
        "I don't want any {slur} near my family",
        "Look at all those {slur} taking over the park",
        "Nobody invited you {slur} to this party",
        "Typical {slur}, always causing trouble",
    ),
    "hateful_profanity": (
        "Fuck {people}, every single one of them",
        "{People} are fucking scum",
        "{People} are a bunch of shitty worthless bastards",
        "Piss off, you goddamn {people}, nobody wants you here",
        "I fucking hate {people} so much",
        "{People} can go to hell, the whole damn lot of them",
    ),
    "hate_negated_positive": (
        "I will never respect {people}",
        "{People} will never be welcome in this town",
        "{People} are not equal to the rest of us and never will be",
        "There is nothing of value in {people}",
        "{People} don't deserve any kindness at all",
        "I could never trust {people} with anything",
    ),
    "hate_question": (
        "Why are {people} so disgusting?",
        "Why does anyone put up with {people} when they are this useless?",
        "Is there anything more pathetic than {people}?",
        "How much longer do we have to tolerate {people} living among us?",
        "Wouldn't the world be better off without {people}?",
        "What is it about {people} that makes them so stupid?",
    ),
    "hate_opinion": (
        "I think {people} are a plague on this country",
        "In my opinion {people} are worthless",
        "I truly believe {people} are inferior to everyone else",
        "Personally I feel {people} are a waste of space",
        "If you ask me, {people} are the root of everything wrong with society",
        "I reckon {people} are all vile",
    ),
    # The same four sentences, perturbed: "I hate {people}", "{People} are disgusting",
    # "{People} are all worthless", "{People} are vermin, every one of them".
    "spelling_swapped_chars": (
        "I haet {people}",
        "{People} are disugsting",
        "{People} are all worhtless",
        "{People} are vemrin, every one of them",
    ),
    "spelling_dropped_char": (
        "I hat {people}",
        "{People} are disgustng",
        "{People} are all worthles",
        "{People} are vermn, every one of them",
    ),
    "spelling_added_char": (
        "I hatee {people}",
        "{People} are disgussting",
        "{People} are all worthlesss",
        "{People} are verrmin, every one of them",
    ),
    "spelling_added_space": (
        "I h a t e {people}",
        "{People} are dis gust ing",
        "{People} are all worth less",
        "{People} are ver min, every one of them",
    ),
    "spelling_leetspeak": (
        "I h4t3 {people}",
        "{People} are d1sgust1ng",
        "{People} are all w0rthl3ss",
        "{People} are v3rm1n, every one of them",
    ),
    "spelling_removed_spaces": (
        "Ihate{people}",
        "{People}aredisgusting",
        "{People}areallworthless",
        "{People}arevermin,everyoneofthem",
    ),
}
