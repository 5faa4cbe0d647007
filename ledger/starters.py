"""Optional starting points for each kind of agreement, to pick and edit."""

STARTERS = {
    "topic": {
        "money": {
            "title": "Money",
            "content": {
                "topic": "Money",
                "where": "home_with_care",
                "guidance": "We talk about money at the kitchen table, not in bed or in the "
                "car. Either of us can ask for a money talk; we agree on a time that day, "
                "and keep it to thirty minutes.",
            },
        },
        "past": {
            "title": "The past we are working through",
            "content": {
                "topic": "The past we are working through",
                "where": "session_only",
                "guidance": "We bring this to our sessions, where there is someone to hold "
                "it with us. If it comes up at home, we note it for the next session and "
                "let it rest until then.",
            },
        },
        "recovery": {
            "title": "Cravings and recovery",
            "content": {
                "topic": "Cravings and recovery",
                "where": "home",
                "guidance": "Either of us can bring this up any time. The one listening "
                "listens first and does not try to fix it.",
            },
        },
    },
    "pause_signal": {
        "time_out": {
            "title": "A time-out sign",
            "content": {
                "signal": "A T made with both hands",
                "meaning": "I'm flooded and can't listen well right now. I'm not leaving "
                "you, and I'm not ending the conversation: I'm pausing it.",
                "who_may_call": "Any of us",
                "minimum_minutes": 20,
                "grounding": "Each of us goes to a different room, breathes slowly, and "
                "does something calming: a walk, music, a shower. No rehearsing the "
                "argument.",
                "way_back_who": "The one who called the pause",
                "way_back_hours": 2,
            },
        },
        "phrase": {
            "title": "A phrase: “I need a pause”",
            "content": {
                "signal": "“I need a pause”",
                "meaning": "I care about this conversation and want to get it right, so "
                "I need to stop for now.",
                "who_may_call": "Any of us",
                "minimum_minutes": 30,
                "grounding": "Slow breathing for five minutes, then something that "
                "settles the body.",
                "way_back_who": "The one who called the pause",
                "way_back_hours": 4,
            },
        },
    },
    "digital_boundary": {
        "posting": {
            "title": "Posting about us",
            "content": {
                "area": "posting",
                "area_other": "",
                "rule": "We ask each other before posting anything about us or our "
                "relationship, and either of us can say no.",
                "exceptions": "Photos of the two of us at family events, once we have "
                "both seen them.",
            },
        },
        "phones": {
            "title": "Phones during conversations",
            "content": {
                "area": "phones",
                "area_other": "",
                "rule": "During our check-ins and hard conversations, both phones are "
                "face down in another room.",
                "exceptions": "Someone is on call for work, or waiting for news about family.",
            },
        },
    },
    "general": {
        "check_in": {
            "title": "A weekly check-in",
            "content": {
                "title": "Our weekly check-in",
                "text": "Every Sunday evening, for half an hour: one thing that went well "
                "this week, one thing that was hard, and one thing we'd like next week.",
            },
        },
        "repair": {
            "title": "A repair routine",
            "content": {
                "title": "After a hard moment",
                "text": "When we are calm again, each of us says what we felt and what we "
                "needed, without blaming. We name one thing we'll try next time.",
            },
        },
    },
}
