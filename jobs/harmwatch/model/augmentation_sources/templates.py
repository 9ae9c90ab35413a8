"""Hand-written augmentation templates: training data, never evaluation data.

Why they exist: the source collection was gathered by keyword, so a group's name predicts a harmful class
(of 3,727 tweets that mention Muslims, 3,614 are ``religion``), and five of its six classes are harmful,
so a bland sentence leans harmful. These sentences teach the opposite where the source is silent: talk
about a group that is not abuse, profanity that is not aimed at anyone, abuse of things or of what someone
did, counter-speech; and, beside them, hostile sentences about every group (so that hostility, not the
group, carries the label). Written for harmwatch; none is taken from a dataset or from any test set
(the behaviour suite, the golden set and the paired fairness templates are separate, and a test checks
that no text is shared).

``{people}`` / ``{People}`` is a group's plural noun phrase (lower case / capitalised at the start).
"""

from __future__ import annotations

# group id -> (noun phrase, class of a hostile post about the group)
GROUPS: dict[str, tuple[str, str]] = {
    "muslims": ("Muslims", "religion"),
    "christians": ("Christians", "religion"),
    "jews": ("Jewish people", "religion"),
    "hindus": ("Hindus", "religion"),
    "sikhs": ("Sikhs", "religion"),
    "buddhists": ("Buddhists", "religion"),
    "atheists": ("atheists", "religion"),
    "catholics": ("Catholics", "religion"),
    "black": ("Black people", "ethnicity"),
    "white": ("white people", "ethnicity"),
    "asian": ("Asian people", "ethnicity"),
    "latino": ("Latino people", "ethnicity"),
    "arabs": ("Arab people", "ethnicity"),
    "mexicans": ("Mexicans", "ethnicity"),
    "indians": ("Indian people", "ethnicity"),
    "chinese": ("Chinese people", "ethnicity"),
    "immigrants": ("immigrants", "ethnicity"),
    "refugees": ("refugees", "ethnicity"),
    "women": ("women", "gender"),
    "men": ("men", "gender"),
    "gay": ("gay men", "gender"),
    "lesbians": ("lesbians", "gender"),
    "trans": ("transgender people", "gender"),
    "bisexual": ("bisexual people", "gender"),
    "queer": ("queer folks", "gender"),
    "girls": ("girls", "gender"),
    "nonbinary": ("non-binary people", "gender"),
    "elderly": ("elderly people", "age"),
    "teens": ("teens", "age"),
    "boomers": ("boomers", "age"),
    "millennials": ("millennials", "age"),
    "pensioners": ("pensioners", "age"),
    "disabled": ("disabled people", "other_cyberbullying"),
    "deaf": ("deaf people", "other_cyberbullying"),
    "autistic": ("autistic people", "other_cyberbullying"),
    "wheelchair": ("wheelchair users", "other_cyberbullying"),
    "poles": ("Polish people", "ethnicity"),
    "roma": ("Roma people", "ethnicity"),
    "irish": ("Irish people", "ethnicity"),
    "mormons": ("Mormons", "religion"),
}

# Not harmful: neutral and positive statements that name a group.
GROUP_NEUTRAL: tuple[str, ...] = (
    "{People} from the community centre cooked dinner for everyone on the street",
    "Our choir has a lot of {people} in it and the concert was lovely",
    "Just read an interview with three {people} about their first jobs",
    "So proud of the {people} who organised the charity run this morning",
    "{People} deserve the same respect and safety as everyone else",
    "The museum opened a new exhibition on the history of {people} in this city",
    "Had a great chat with a group of {people} at the bus stop",
    "I love how welcoming the {people} at my gym have been",
    "Many {people} volunteer at the hospital on weekends",
    "{People} are part of what makes this neighbourhood great",
    "My best friends growing up were {people} and I miss them",
    "The podcast invited {people} to talk about their favourite books",
    "{People} have every right to live here in peace",
    "Some {people} joined our hiking club and they are brilliant company",
    "A new report looks at how {people} use public transport",
    "Happy holidays to all the {people} celebrating this week",
    "The football team includes several {people} and they play really well",
    "{People} are welcome at our table any day",
    "As one of the {people} in my class I felt really supported by my teacher",
    "The council is asking {people} for feedback on the new park",
    "Thank you to the {people} who helped clean up the beach today",
    "There are {people} in every profession, from nurses to engineers",
    "We are {people} and we are proud of who we are",
    "The festival celebrated the food and music of {people}",
    "Honestly {people} are some of the kindest folks I have met",
    "Friendly reminder that {people} are human beings like you and me",
)

# Not harmful: rejecting or reporting abuse (it quotes or refers to hate in order to oppose it).
COUNTER_SPEECH: tuple[str, ...] = (
    "Saying that {people} are vermin is vile and you should be ashamed",
    "If you think {people} should be banned from this country you need to educate yourself",
    "Stop calling {people} disgusting, it is hateful and wrong",
    "Anyone who says they hate {people} does not speak for me",
    "I reported the account that kept posting threats against {people}",
    "People who spread lies about {people} are the real problem here",
    "The idea that {people} are criminals is a racist myth",
    "Calling {people} animals is dehumanising and it has to stop",
    "It makes me so angry when bullies harass {people} online",
    "No, {people} are not a threat, and repeating that slogan is bigotry",
)

# Not harmful: abuse of a group referred to (not quoted) in order to reject or report it.
COUNTER_REFERENCE: tuple[str, ...] = (
    "The thread full of slurs against {people} finally got removed, good riddance",
    "Mods, please ban the accounts spamming insults at {people}",
    "Those memes making fun of {people} are cruel and I won't share them",
    "Being rude about {people} doesn't make you edgy, it makes you a bully",
    "The abuse {people} get in the comments every day is exhausting to read",
    "My uncle said something nasty about {people} at dinner and I called him out",
)

# Harmful: hate phrased as a positive statement negated (the group's class).
NEGATED_HOSTILE: tuple[str, ...] = (
    "{People} have never done a single useful thing for anyone",
    "I could never respect any of the {people} in this town",
    "{People} are not fit to raise children",
    "No sane boss would ever give {people} a job",
    "{People} don't deserve the same rights as the rest of us",
    "I will never shake hands with one of those {people}",
    "{People} are not real citizens and never will be",
    "Nothing {people} say can ever be believed",
)

# Harmful: contempt for a group without an insulting word (the group's class).
IMPLICIT_HOSTILE: tuple[str, ...] = (
    "I moved house the moment {people} started buying on my street",
    "Crime went through the roof once {people} were let in",
    "My kids are not allowed to play with {people}",
    "Send {people} back and watch how fast this country recovers",
    "Ever notice how {people} only show up when there is something free",
    "We were doing fine before {people} took over the high street",
    "{People} breed like there is no tomorrow and we pay for it",
    "If you hire {people} don't be surprised when things go missing",
)

# Not harmful: a hateful claim negated.
NEGATED: tuple[str, ...] = (
    "I would never say that {people} are worthless",
    "{People} are not stupid, no matter what the trolls claim",
    "It is not true that {people} are dangerous",
    "I don't hate {people} at all, I actually admire them",
    "Nobody should think {people} are less than anyone else",
)

# Harmful: derogation, dehumanisation and threats aimed at a group (labelled with the group's class).
GROUP_HOSTILE: tuple[str, ...] = (
    "{People} are a disease and this country needs to be cured of them",
    "I can't stand {people}, they are filthy parasites",
    "All {people} are vermin and should be treated like it",
    "{People} are too stupid to be allowed to vote",
    "Get rid of every single one of those {people}, they disgust me",
    "{People} are subhuman trash and always will be",
    "I am going to hurt the next one of those {people} I see",
    "{People} should be locked up and never let out",
    "Honestly {people} are the worst kind of scum on this planet",
    "Why are {people} so useless and pathetic",
    "{People} make me sick, they should all just disappear",
    "Those {people} need a beating to learn their place",
    "You can never trust {people}, they are born liars",
    "{People} are worthless and deserve nothing but contempt",
)

# Not harmful, no group: profanity that is not aimed at anyone.
PROFANITY: tuple[str, ...] = (
    "Holy shit that concert was amazing",
    "Fuck yes, we finally won the league",
    "This pizza is so damn good I could cry",
    "I'm so fucking tired after that shift",
    "Shit, I forgot my keys again",
    "What the hell just happened in that episode",
    "Damn, that sunset is gorgeous tonight",
    "Fucking finally, the weekend is here",
    "That was a badass goal, what a player",
    "Bloody hell it's cold out this morning",
    "Oh crap, the train is late again",
    "Best fucking day of my life, I passed my driving test",
)

# Not harmful: abuse aimed at objects, at what someone did, or at non-protected groups.
NON_TARGETED_ABUSE: tuple[str, ...] = (
    "I hate this stupid printer, it jams every single time",
    "My phone is a useless piece of junk",
    "This traffic is absolute garbage today",
    "The new update is trash and ruined the app",
    "Mondays are the worst, I despise them",
    "That referee's decision was pathetic",
    "Your essay was lazy and you know it, do it again",
    "The way he parked was idiotic, he blocked the whole road",
    "Her excuse for missing the meeting was ridiculous",
    "What he did to his friend was cruel and he owes him an apology",
    "Spammers are the worst people on the internet",
    "Tax collectors are so annoying this time of year",
    "Mosquitoes are disgusting little pests",
    "Pigeons are filthy and they ruin the square",
    "Telemarketers who call at dinner time should be banned",
    "This weather is killing me, it's so hot",
    "That movie was a disaster, worst two hours ever",
    "Rats in the basement again, I hate those things",
)

# Not harmful, no group: a person called names for something they did (rude, but not hate).
INDIVIDUAL_ACTION: tuple[str, ...] = (
    "The waiter who spilled soup on me and laughed was a rude prat",
    "My flatmate is a lazy slob for leaving the dishes for a week",
    "That cyclist who knocked my mirror off and rode away is a coward",
    "The seller who scammed me out of fifty quid is a lying crook",
    "My ex was a total jerk for reading my messages",
    "The neighbour who blasts music at 3am is an inconsiderate idiot",
    "Our coach was a muppet for benching our best player",
    "Whoever ate my lunch from the office fridge is a thieving git",
)

# Harmful, no group: insults and threats aimed at a person (``other_cyberbullying``).
PERSONAL_ATTACK: tuple[str, ...] = (
    "You are a pathetic loser and everyone laughs at you behind your back",
    "Nobody likes you, just delete your account already",
    "You're so ugly it hurts to look at your profile picture",
    "Keep talking and I will find out where you live",
    "You are a worthless idiot and you should disappear",
    "Go cry somewhere else you useless clown",
)

# Composed sentences: one frame, many fillers. The same frames carry benign and hostile fillers, so the
# frame's words cannot carry the label; the filler does. ``{x}`` is the filler's slot.
FRAMES: dict[str, tuple[str, ...]] = {
    "adj": (
        "{People} around here are {x}",
        "{People} are so {x}",
        "Honestly I find {people} {x}",
        "In my experience {people} are {x}",
        "Every one of the {people} I know is {x}",
        "Why are {people} always so {x}?",
    ),
    "noun": (
        "{People} in this town are {x}",
        "To me {people} are {x}",
        "Let's be clear, {people} are {x} and always were",
        "Everyone at work knows {people} are {x}",
    ),
    "verb": (
        "Between you and me, I {x} {people}",
        "Honestly I {x} {people}",
        "I {x} all {people}",
        "My whole family {x} {people}",
    ),
    "action": (
        "We should {x} {people}",
        "It's time to {x} {people}",
        "Our town needs to {x} {people}",
        "Somebody has to {x} the {people} around here",
    ),
}

# frame kind -> (benign fillers, hostile fillers)
FILLERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "adj": (
        (
            "kind",
            "friendly",
            "hardworking",
            "generous",
            "talented",
            "funny",
            "brave",
            "thoughtful",
            "lovely",
            "smart",
            "welcoming",
            "honest",
            "creative",
            "helpful",
            "polite",
            "normal people",
            "great cooks",
            "easy to talk to",
            "good company",
            "a joy to work with",
        ),
        (
            "disgusting",
            "filthy",
            "stupid",
            "worthless",
            "pathetic",
            "evil",
            "vile",
            "dirty",
            "lazy",
            "dumb",
            "useless",
            "inferior",
            "sick in the head",
            "revolting",
            "dangerous",
            "savage",
            "nasty",
            "brain-dead",
            "hateful",
            "a waste of oxygen",
        ),
    ),
    "noun": (
        (
            "our neighbours",
            "people like everyone else",
            "part of this community",
            "good friends",
            "valued colleagues",
            "human beings",
            "our classmates",
            "welcome here",
            "fellow citizens",
            "members of our club",
        ),
        (
            "vermin",
            "rats",
            "parasites",
            "animals",
            "scum",
            "trash",
            "garbage",
            "pigs",
            "savages",
            "monsters",
            "lowlife filth",
            "a disease",
            "leeches",
            "degenerates",
            "a pest",
        ),
    ),
    "verb": (
        ("love", "admire", "respect", "support", "stand with", "appreciate", "like", "trust"),
        ("hate", "despise", "loathe", "detest", "can't stand", "want to hurt", "spit on", "am sick of"),
    ),
    "action": (
        ("welcome", "support", "protect", "celebrate", "hire more", "listen to", "thank", "include"),
        (
            "kill",
            "get rid of",
            "deport all",
            "exterminate",
            "beat up",
            "shoot",
            "hang",
            "burn out",
            "lock up all",
            "wipe out",
        ),
    ),
}

# Composed counter-speech and negation: a hostile filler inside a sentence that rejects it.
COUNTER_FRAMES: tuple[str, ...] = (
    "Saying {people} are {x} is hateful nonsense",
    "Whoever wrote that {people} are {x} should be ashamed of themselves",
    "I'm sick of trolls claiming {people} are {x}",
    "{People} are not {x}",
    "It's a lie that {people} are {x}",
)

# Composed negation: a positive filler negated is hostile, a hostile filler negated is not (``adj``
# fillers): "not", "never" and their neighbours, not the adjective alone, carry the label.
NEGATION_FRAMES: tuple[str, ...] = (
    "{People} are never {x}",
    "I have never met {people} who were {x}",
    "Not one of the {people} on my street is {x}",
    "{People} could never be {x}",
)

# Third round: the behaviours the first two left short, written again with more variety.

# Contempt for a group with no insulting word, by exclusion ("go back", "don't belong", "not welcome",
# "replacing us"), in frames about where people live, work and study. The same frames carry a welcoming
# filler (benign) and an excluding one (hostile, the group's class), so the street, the school or the town
# cannot carry the label: the exclusion does. ``{x}`` is the filler.
EXCLUSION_FRAMES: tuple[str, ...] = (
    "{People} {x} on our street",
    "As far as I'm concerned {people} {x} in this town",
    "{People} {x} at our school",
    "Let's be honest, {people} {x} in this country",
    "{People} {x} in my building",
    "Round here {people} {x}",
)
# (welcoming fillers, excluding fillers)
EXCLUSION_FILLERS: tuple[tuple[str, ...], tuple[str, ...]] = (
    (
        "are always welcome",
        "belong just like the rest of us",
        "have made a real home",
        "are part of the furniture",
        "are some of our best neighbours",
        "have been made to feel at home",
        "can stay as long as they like",
        "are the people who keep things running",
    ),
    (
        "are not welcome",
        "don't belong",
        "have no place",
        "should go back to where they came from",
        "are replacing the people who were here first",
        "should be kept out",
        "need to pack up and leave",
        "will never be one of us",
    ),
)

# Negation both ways, with base-verb and noun fillers: a positive filler negated is hostile ("I could never
# respect them"), a hostile filler negated is not ("no way I would hate them"), so ``not_<word>`` features
# see both directions. ``{x}`` is the filler.
NEGATION_VERB_FRAMES: tuple[str, ...] = (
    "Not in a million years would I {x} {people}",
    "Nobody in my family would ever {x} {people}",
    "There's no way I would {x} {people}",
    "My dad taught me never to {x} {people}",
)
NEGATION_NOUN_FRAMES: tuple[str, ...] = (
    "{People} will never be {x}",
    "{People} were never {x} and never will be",
    "None of the {people} I know are {x}",
)
# (benign fillers, hostile fillers) of the negation frames above, before negation
NEGATION_VERBS: tuple[tuple[str, ...], tuple[str, ...]] = (
    ("respect", "trust", "like", "admire", "love", "support", "welcome", "befriend"),
    ("hate", "despise", "hurt", "insult", "mock", "look down on", "bully", "attack"),
)

# Contempt without an insulting word, paired: each frame once with a fair filler and once with a
# contemptuous one (exclusion, "replacing", dehumanising comparisons), so the filler carries the label.
CONTEMPT_FRAMES: tuple[str, ...] = (
    "Mark my words, {people} {x}",
    "Say what you like, {people} {x}",
    "My mum always said {people} {x}",
    "The way I see it {people} {x}",
    "If you ask me {people} {x}",
    "Round our way {people} {x}",
)
# (fair fillers, contemptuous fillers)
CONTEMPT_FILLERS: tuple[tuple[str, ...], tuple[str, ...]] = (
    (
        "have made the high street busier and better",
        "are just getting on with their lives",
        "work as hard as anyone I know",
        "are as much a part of this place as anybody",
        "have been good for this town",
        "look out for their neighbours",
        "deserve a fair shake like everybody else",
        "will always have a seat at our table",
        "are the reason the community centre stays open",
        "settle in and make friends fast",
    ),
    (
        "breed like rabbits and take over",
        "are taking over and nobody dares say it",
        "should be sent back where they belong",
        "will never fit in with decent folk",
        "are slowly pushing the rest of us out",
        "spread through a neighbourhood like mould",
        "are like rats, where there's one there's a hundred",
        "should keep to their own kind and stay away from ours",
        "ruin every place they settle in",
        "shouldn't be allowed to live next to normal families",
    ),
)

# Not harmful: a group named beside a strong word used in a harmless sense (winning, struggling, being
# wronged, being fed up): the words a bag of words reads as hostile whatever they are aimed at.
STRONG_BENIGN: tuple[str, ...] = (
    "{People} absolutely smashed the county quiz on Friday",
    "{People} have been battling the council to save the swimming pool",
    "{People} are fed up with being spoken about instead of spoken to",
    "{People} were the target of a nasty scam this winter, watch out for each other",
    "Three {people} lost their homes in the fire, there's a collection at the pub",
    "{People} are furious about the rent rises and who can blame them",
    "{People} stormed the charts this year with some brilliant records",
    "{People} are struggling with the cost of everything at the moment",
    "{People} have had a brutal few years and still show up for everyone",
    "{People} are done putting up with broken promises from the council",
    "{People} crushed it at the five-a-side tournament",
    "Lots of {people} are worried sick about the hospital closing",
)

# Counter-speech that names the abuse it rejects, paired with a frame that endorses the same insult: the
# group and the insult appear in both, the stance carries the label. ``{x}`` is a hostile noun filler.
COUNTER_NAMING_PAIRS: tuple[tuple[str, str], ...] = (
    (
        "Calling {people} {x} is vile and I won't stay quiet about it",
        "{People} are {x} and I won't stay quiet about it",
    ),
    ("Comparing {people} to {x} is dehumanising, stop it", "Comparing {people} to {x} is fair, look at them"),
    (
        "It's sickening how people here call {people} {x}",
        "It's obvious to everyone here that {people} are {x}",
    ),
    ("The thread calling {people} {x} made me feel ill", "The thread calling {people} {x} was spot on"),
    (
        "Labelling {people} as {x} is hate, plain and simple",
        "Labelling {people} as {x} is the truth, plain and simple",
    ),
    ("Shame on the account that called {people} {x}", "Credit to the account that called {people} {x}"),
)

# Threats, paired: one frame filled once with a harmless and once with a violent verb phrase, so the verb, not
# the group or the frame ("someone should ... the ... on my street"), carries the label. ``{x}`` is the verb
# phrase. Aimed at a group (the group's class) or, in the person frames, at one person (``{x}`` before
# "you", "him" or "her"; ``other_cyberbullying``).
THREAT_FRAMES: tuple[str, ...] = (
    "Someone should {x} the {people} on my street",
    "Tonight a few of us are going to {x} the {people} in this town",
    "I swear I will {x} every one of the {people} at my work",
    "Next weekend the lads and I will {x} those {people} by the park",
    "It's about time somebody went round to {x} the {people} next door",
    "Mark the date, we {x} the {people} at the community centre on Saturday",
    "First chance I get I'm going to {x} the {people} who drink in that pub",
    "We know where the {people} meet on Fridays and we will {x} them",
)
# (harmless, violent) verb phrases, each taking the group as its object
THREAT_VERBS: tuple[tuple[str, ...], tuple[str, ...]] = (
    (
        "help",
        "cook a meal for",
        "say thank you to",
        "bring flowers to",
        "check in on",
        "stand up for",
        "throw a welcome party for",
        "shovel the snow for",
        "sing carols for",
        "give a lift to",
        "make a pot of tea for",
        "look after",
        "raise money for",
        "fix the fence for",
    ),
    (
        "hurt",
        "beat up",
        "stab",
        "shoot",
        "torch the houses of",
        "put a brick through the windows of",
        "run over",
        "string up",
        "gun down",
        "take a knife to",
        "set fire to",
        "lynch",
        "kick the teeth out of",
        "break the bones of",
    ),
)
THREAT_PERSON_FRAMES: tuple[str, ...] = (
    "Next time I see you at the match I'm going to {x} you",
    "Wait till Monday, I'm going to {x} you in front of everyone",
    "That ref from last night, I'll {x} him if I see him again",
    "Tell your sister I'm coming round to {x} her",
    "Honestly I could {x} you right now",
    "As soon as you get off the train I will {x} you",
    "Your brother is next, I'm going to {x} him",
    "Wait for me after the shift and I'll {x} you",
)
THREAT_PERSON_VERBS: tuple[tuple[str, ...], tuple[str, ...]] = (
    ("hug", "buy a pint for", "thank", "cheer on", "high-five", "bake a cake for", "treat", "drive"),
    ("kill", "stab", "batter", "strangle", "put a knife in", "kick the life out of", "shoot", "cripple"),
)

# Not harmful: warm statements about a group in words the first templates lack (thanks, pride, joy).
POSITIVE_MORE: tuple[str, ...] = (
    "Thankful every day for the {people} who took me in when I moved here",
    "Big love to all the {people} who came out to support the food bank",
    "Feeling blessed to have {people} as colleagues, they make work fun",
    "The {people} in my running club are the most encouraging bunch",
    "Shout out to the {people} at the corner shop, always a smile",
    "Growing up around {people} taught me so much about kindness",
    "Cheers to the {people} who fixed up the old playground",
    "Glad to count so many {people} among my closest friends",
    "{People} have brought so much warmth to our street",
    "Sending love to the {people} celebrating their festival today",
    "Always a pleasure to work alongside {people}",
    "My life is richer for the {people} I have met this year",
)

# Not harmful: abuse of a group referred to, not quoted, in order to reject or report it.
COUNTER_REFERENCE_MORE: tuple[str, ...] = (
    "Reported another account harassing {people}, the platform has to do better",
    "The way some people talk about {people} on here is shameful",
    "I'm tired of seeing {people} targeted by trolls every single day",
    "Standing with {people} against the hate campaign this week",
    "Whoever is leaving those nasty notes for {people} needs to stop",
    "The replies under that article about {people} are a cesspit of bigotry",
    "Harassing {people} online is cowardly, full stop",
    "Please stop sharing that hateful cartoon about {people}",
)

# Not harmful, no group: a person called names for what they did (rude, not hate).
INDIVIDUAL_MORE: tuple[str, ...] = (
    "The idiot who parked across my driveway made me late for work",
    "My landlord is a greedy clown for keeping our deposit",
    "That ref was a blind fool tonight, what a shocker",
    "The bloke who pushed in at the till is a rude pig",
    "My sister is a brat for spoiling the finale for me",
    "The manager who cancelled my order twice is a useless muppet",
    "Whoever keeps nicking my parcels is a low life thief",
    "Our captain was an absolute donkey for missing that penalty",
    "The courier who threw my parcel over the fence is a lazy sod",
    "The councillor who lied about the library closing is a disgrace",
)

# Not harmful, no group: groups defined by a habit or a choice, for the non-protected frames.
NON_PROTECTED_HABITS: tuple[str, ...] = (
    "people who don't pick up after their dogs",
    "drivers who tailgate",
    "people who shout into their phones on the train",
    "people who chew with their mouths open",
    "gym bros who hog the machines",
    "people who leave trolleys in the car park",
    "cyclists on the pavement",
    "reply-all addicts",
)

# Not harmful: a reclaimed word used in-group and friendly, by the group that reclaims it.
RECLAIMED_INGROUP: tuple[str, ...] = (
    "Us dykes are hosting a picnic in the park on Saturday, all welcome",
    "Proud to be a big old dyke with a big old heart",
    "Queer and here, see you all at the community dance tonight",
    "My fellow crips and I are racing our chairs in the charity relay",
    "Crip pride meetup this weekend, bring snacks",
    "Me and the other queers from choir are off for brunch",
    "As a dyke myself I love seeing more of us on telly",
    "Old queens like me still know how to throw a party",
    "Fat and fabulous, us fatties are taking over the beach this summer",
    "Geeks and nerds unite, our board game night is back",
)

# Not harmful, no group: everyday posts with nothing hostile in them, which the source's collection
# artefacts leave near the flag line.
EVERYDAY: tuple[str, ...] = (
    "Just got back from a long walk along the canal, my legs are done",
    "Anyone know a good place to get a bike fixed near the station?",
    "The kids built a fort out of sofa cushions and refuse to leave it",
    "Trying a new lasagne recipe tonight, wish me luck",
    "My flight got delayed so I'm people watching at the gate",
    "Finished the jigsaw puzzle after three weeks, one piece missing of course",
    "The library has a book sale on Saturday morning",
    "Our dog learned to open the back door, we are in trouble",
    "First swim of the year and the sea was freezing",
    "Off to my nan's for Sunday roast",
    "Can't decide between the blue paint and the green one for the hallway",
    "Morning run done, coffee next",
    "The power went out so we played cards by candlelight",
    "Started learning the guitar, my fingers hurt already",
    "Waiting for the plumber, he said between eight and twelve",
    "Saw a hedgehog in the garden last night",
    "Picked up my new glasses, everything looks so sharp",
    "The school fair raised enough money for new football goals",
    "Packing for the camping trip, hoping the rain holds off",
    "Got my exam results today, passed everything",
    "The queue at the post office was out the door this morning",
    "Planted some sunflowers with my daughter this afternoon",
    "Our street is having a bake sale for the hospice on Sunday",
    "New episode of my favourite quiz show tonight",
)

# Objects and non-protected groups: what abuse may be aimed at without being hate.
OBJECTS: tuple[str, ...] = (
    "printer",
    "laptop",
    "phone",
    "bus service",
    "weather",
    "traffic",
    "new update",
    "coffee machine",
    "microwave",
    "game",
    "keyboard",
    "train",
    "homework",
    "meeting",
    "rain",
    "parking app",
)
NON_PROTECTED: tuple[str, ...] = (
    "spammers",
    "telemarketers",
    "scammers",
    "pigeons",
    "seagulls",
    "wasps",
    "parking wardens",
    "tax auditors",
    "bad drivers",
    "litterbugs",
    "internet trolls",
    "bankers",
    "estate agents",
    "slugs",
    "mosquitoes",
    "queue jumpers",
)
NON_PROTECTED_MORE: tuple[str, ...] = (
    "vapers",
    "golfers",
    "people who talk in cinemas",
    "tourists who block the pavement",
    "crypto bros",
    "influencers",
    "fans of the other team",
    "people who recline their seats on planes",
)
OBJECT_FRAMES: tuple[str, ...] = (
    "This {x} is {y}",
    "I hate this {y} {x}",
    "My {x} is so {y} today",
    "I swear I will smash this {y} {x}",
)
NON_PROTECTED_FRAMES: tuple[str, ...] = (
    "{X} are {y}",
    "I hate {x}, they are {y}",
    "Honestly {x} are so {y}",
)

# Leetspeak and dropped letters: the same hostile posts as people misspell them to slip past filters.
LEET: dict[str, str] = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5"}
LEET_ALT: dict[str, str] = {"a": "@", "e": "3", "i": "!", "o": "0", "s": "$"}
