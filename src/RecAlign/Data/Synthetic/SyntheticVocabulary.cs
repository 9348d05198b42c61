namespace RecAlign.Data.Synthetic;

/// <summary>Genre names and the genre-specific title words of the synthetic world. Kept small (12 adjectives and
/// 12 nouns per genre, no word shared between genres) so a tiny LM can learn titles and infer genres from words.</summary>
public static class SyntheticVocabulary
{
    public const int GenreCount = 10;
    /// <summary>Upper bound on distinct titles one genre can supply (base titles; sequels reuse a base).</summary>
    public const int MaxTitlesPerGenre = 250;

    public static readonly string[] GenreNames =
        ["Drama", "Comedy", "SciFi", "Horror", "Romance", "Thriller", "Fantasy", "Western", "Documentary", "Animation"];

    internal static readonly string[][] Adjectives =
    [
        ["Silent", "Broken", "Quiet", "Distant", "Bitter", "Fading", "Hollow", "Tender", "Lonely", "Faithful", "Restless", "Gentle"],
        ["Crazy", "Lucky", "Silly", "Jolly", "Clumsy", "Goofy", "Happy", "Wacky", "Cheeky", "Fuzzy", "Bouncy", "Merry"],
        ["Neon", "Quantum", "Orbital", "Binary", "Cosmic", "Stellar", "Digital", "Atomic", "Solar", "Chrome", "Plasma", "Electric"],
        ["Cursed", "Bloody", "Haunted", "Rotten", "Wicked", "Grim", "Dead", "Pale", "Unholy", "Feral", "Ghastly", "Sinister"],
        ["Sweet", "Golden", "Secret", "Summer", "Eternal", "Velvet", "Lovely", "Sunny", "Radiant", "Blushing", "Starry", "Darling"],
        ["Deadly", "Hidden", "Final", "Dark", "Frozen", "Rogue", "Fatal", "Covert", "Burning", "Crimson", "Shattered", "Lethal"],
        ["Enchanted", "Ancient", "Mystic", "Dragon", "Elven", "Runic", "Arcane", "Shadow", "Crystal", "Emerald", "Wandering", "Sacred"],
        ["Dusty", "Wild", "Lone", "Rusty", "Outlaw", "Desert", "Prairie", "Iron", "Savage", "Rugged", "Sundown", "Copper"],
        ["Living", "Untold", "Deep", "Real", "Human", "Vanishing", "Natural", "Urban", "Inner", "Blue", "Great", "Northern"],
        ["Little", "Magic", "Tiny", "Brave", "Curious", "Friendly", "Sleepy", "Rainbow", "Wobbly", "Sparkly", "Jumping", "Cuddly"],
    ];

    internal static readonly string[][] Nouns =
    [
        ["Harbor", "Letter", "Winter", "Promise", "Family", "River", "Garden", "Silence", "Mother", "Station", "Window", "Road"],
        ["Wedding", "Weekend", "Roommates", "Vacation", "Dinner", "Neighbors", "Party", "Uncle", "Office", "Holiday", "Pickle", "Plan"],
        ["Protocol", "Horizon", "Colony", "Signal", "Android", "Nebula", "Reactor", "Galaxy", "Matrix", "Voyager", "Circuit", "Frontier"],
        ["Cabin", "Asylum", "Ritual", "Doll", "Crypt", "Swamp", "Mask", "Cellar", "Shadows", "Witch", "Graveyard", "Hunger"],
        ["Kiss", "Heart", "Paris", "Sunset", "Dance", "Valentine", "Rose", "Bride", "Serenade", "Affair", "Romance", "Honeymoon"],
        ["Agent", "Target", "Witness", "Conspiracy", "Heist", "Deadline", "Pursuit", "Dossier", "Alibi", "Hostage", "Cipher", "Sniper"],
        ["Kingdom", "Sword", "Quest", "Crown", "Wizard", "Realm", "Prophecy", "Castle", "Amulet", "Throne", "Forest", "Legend"],
        ["Canyon", "Ranch", "Sheriff", "Rider", "Outpost", "Saloon", "Gunslinger", "Trail", "Mesa", "Stagecoach", "Bounty", "Posse"],
        ["Ocean", "Planet", "Earth", "Jungle", "Glacier", "Tribe", "Migration", "Volcano", "Reef", "Story", "Science", "History"],
        ["Bunny", "Robot", "Puppy", "Dinosaur", "Penguin", "Train", "Balloon", "Kitten", "Monster", "Dragonfly", "Toybox", "Rocket"],
    ];
}
