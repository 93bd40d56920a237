package com.example.weather;

import com.example.weather.Conditions;
import com.example.weather.DayForecast;
import com.example.weather.IWeatherListener;

/** The weather service legacy apps were written against. */
interface IWeatherService {
    /** The conditions in a city now; EX_ILLEGAL_ARGUMENT for a city it does not know. */
    Conditions getCurrent(String city);
    /** The next `days` days (1 to 7). */
    DayForecast[] getForecast(String city, int days);
    /** The cities it knows. */
    String[] listCities();
    /** Calls the listener whenever the city's conditions change. */
    void addListener(String city, IWeatherListener listener);
    void removeListener(IWeatherListener listener);
}
